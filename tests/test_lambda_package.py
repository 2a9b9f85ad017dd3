"""The deployment zip: only the handler package, small, byte-identical, importable on its own."""

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

from fibonacci_numbers import fibonacci
from fibtrigger.aws import package as lambda_package
from fibtrigger.cli import main
from fibtrigger.lambda_function.contract import LAMBDA_MAX_FIB_ENV


def entries(data: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(io.BytesIO(data)).infolist()


def test_the_zip_holds_only_the_handler_package_and_is_small():
    package = lambda_package.build()
    assert package.size < lambda_package.MAX_PACKAGE_BYTES == 16 * 1024
    names = [info.filename for info in entries(package.data)]
    expected = sorted(
        f"lambda_handler/{path.relative_to(lambda_package.PACKAGE_DIR).as_posix()}"
        for path in lambda_package.PACKAGE_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert names == expected
    assert {"lambda_handler/__init__.py", "lambda_handler/contract.py", "lambda_handler/function.py"} <= set(names)
    assert not any(name.endswith(".pyc") or "fibtrigger" in name for name in names)
    for info in entries(package.data):
        assert info.date_time == lambda_package.FIXED_DATE
        assert info.create_system == 3 and info.external_attr == 0o644 << 16
    assert zipfile.ZipFile(io.BytesIO(package.data)).testzip() is None


def test_the_same_source_gives_byte_identical_zips(tmp_path, monkeypatch):
    first = lambda_package.build()
    assert lambda_package.build().data == first.data
    # A copy made in another order, with other timestamps, in another directory.
    copy = tmp_path / "elsewhere" / "lambda_handler"
    copy.mkdir(parents=True)
    for index, path in enumerate(reversed(lambda_package.source_files())):
        target = copy / path.relative_to(lambda_package.PACKAGE_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        os.utime(target, (1_000_000_000 + index, 1_000_000_000 + index))
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "function.cpython-311.pyc").write_bytes(b"not source")
    monkeypatch.setattr(lambda_package, "PACKAGE_DIR", copy)
    again = lambda_package.build()
    assert again.data == first.data
    assert again.sha256 == first.sha256


def test_the_function_imports_from_the_zip_alone_in_a_fresh_interpreter(tmp_path):
    zip_path = tmp_path / "function.zip"
    lambda_package.write(zip_path)
    code = """
import json, sys
sys.path.insert(0, sys.argv[1])
import lambda_handler
assert lambda_handler.__file__.startswith(sys.argv[1]), lambda_handler.__file__
direct = lambda_handler.handler({"fib": 100}, None)
http_event = {"httpMethod": "POST", "path": "/", "body": '{"fib": 400}', "isBase64Encoded": False}
http = lambda_handler.handler(http_event, None)
try:
    lambda_handler.handler({"fib": 401}, None)
except Exception as error:
    failure = [type(error).__name__, str(error)]
foreign = sorted(m for m in sys.modules if m.split(".")[0] in ("fibtrigger", "boto3", "botocore", "sqlalchemy"))
print(json.dumps({"direct": direct, "http": http, "failure": failure, "foreign": foreign, "path": sys.path}))
"""
    env = {"PATH": os.environ.get("PATH", ""), LAMBDA_MAX_FIB_ENV: "400"}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(zip_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    *log_lines, last = done.stdout.splitlines()
    report = json.loads(last)
    # On Lambda the handler writes one JSON line per invocation to stdout (CloudWatch Logs).
    assert [json.loads(line)["fib"] for line in log_lines] == [100, 400, None]
    assert report["direct"] == {"fib": 100, "value": str(fibonacci(100))}
    assert report["http"]["statusCode"] == 200
    assert json.loads(report["http"]["body"]) == {"fib": 400, "value": str(fibonacci(400))}
    assert report["failure"] == ["ArgumentError", "fib must be between 0 and 400, got 401"]
    assert report["foreign"] == []
    assert not any("site-packages" in entry for entry in report["path"])


def test_cli_package_writes_the_zip_and_prints_size_and_sha256(tmp_path, capsys):
    target = tmp_path / "function.zip"
    assert main(["lambda", "package", "-o", str(target)]) == 0
    package = lambda_package.build()
    assert target.read_bytes() == package.data
    assert capsys.readouterr().out.strip() == f"{target}: {package.size} bytes, sha256 {package.sha256}"
