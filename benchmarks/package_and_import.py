"""Row 8: the Lambda package's size, and the cold import of lambda_handler against a bare interpreter.
Row 10: `import fibtrigger` and the facade's import against importing what it needs (SQLAlchemy, PyMySQL).
Row 12: `fibtrigger --help` and `fibtrigger --version` against a bare interpreter."""

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from fibtrigger.aws import package as lambda_package

from .model import Figure, Row, Settings, at_most, labelled
from .timing import compared, interleave


def row(settings: Settings) -> Row:
    package = lambda_package.build()
    with tempfile.TemporaryDirectory(prefix="fibtrigger-bench-package-") as directory:
        # Measured as deployed: the zip's own files, unpacked like Lambda's /var/task. Two copies:
        # -B never writes .pyc, but would read any that the other case wrote.
        never_cached, cached = Path(directory, "never-cached"), Path(directory, "cached")
        for target in (never_cached, cached):
            zipfile.ZipFile(io.BytesIO(package.data)).extractall(target)
        commands = {
            # -B: Lambda's /var/task is read-only and the zip has no .pyc, so every cold start compiles.
            "import_compiling": [sys.executable, "-I", "-B", "-c", _importing(never_cached)],
            "import_cached_bytecode": [sys.executable, "-I", "-c", _importing(cached)],
            "bare_interpreter": [sys.executable, "-I", "-c", "pass"],
        }
        cases = interleave({name: _start(command) for name, command in commands.items()}, settings.import_rounds)
    size_limit = lambda_package.MAX_PACKAGE_BYTES
    return Row(
        "8",
        "the Lambda package: size; cold `import lambda_handler` in a fresh `python -I`",
        "a bare interpreter start, `python -I -c pass`",
        [
            Figure("zip size", package.size, "bytes", f"<= {size_limit:,} bytes", package.size <= size_limit),
            labelled(
                "import (`python -I`, .pyc cached by an earlier start)",
                at_most(compared(cases["import_cached_bytecode"], cases["bare_interpreter"]), 1.15),
            ),
            labelled(
                "import compiling every start (`python -I -B`, as on Lambda)",
                at_most(compared(cases["import_compiling"], cases["bare_interpreter"]), 1.15),
            ),
        ],
        note=(
            f"fibtrigger.aws.package.build(): {len(lambda_package.source_files())} files, sha256 "
            f"{package.sha256[:16]}... Each start is a new process of this venv's Python "
            f"{sys.version.split()[0]}, whole wall time including exit; the baseline includes this venv's "
            "site-packages start-up too. The first import figure is the command as written, run "
            "repeatedly: the first start writes __pycache__, later ones read it. The second never writes "
            "bytecode, which is what a Lambda cold start pays: /var/task is read-only and the zip carries "
            "no .pyc, so the handler's modules are compiled on every cold start."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def fibtrigger_import_row(settings: Settings) -> Row:
    commands = {
        "import_fibtrigger": [sys.executable, "-c", "import fibtrigger"],
        "import_facade": [sys.executable, "-c", "from fibtrigger import compute"],
        "import_sqlalchemy_pymysql": [sys.executable, "-c", "import sqlalchemy, pymysql"],
    }
    cases = interleave({name: _start(command) for name, command in commands.items()}, settings.import_rounds)
    baseline = cases["import_sqlalchemy_pymysql"]
    return Row(
        "10",
        '`python -c "import fibtrigger"`, a fresh interpreter each time',
        '`python -c "import sqlalchemy, pymysql"`',
        [
            at_most(compared(cases["import_fibtrigger"], baseline), 1.3),
            labelled(
                '`python -c "from fibtrigger import compute"` (loads the facade, SQLAlchemy and PyMySQL)',
                at_most(compared(cases["import_facade"], baseline), 1.3),
            ),
        ],
        note=(
            "Whole process wall time, .pyc cached, in this venv. `import fibtrigger` loads the errors only; "
            "the facade (and SQLAlchemy with it) loads on first use of compute, compute_many or "
            "FibonacciTable, so the second figure is what a program that calls compute() pays. Alembic, "
            "click and boto3 load only where they are used (migrations, the CLI, AWS)."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def cli_start_row(settings: Settings) -> Row:
    script = str(Path(sys.executable).with_name("fibtrigger"))
    commands = {
        "help": [script, "--help"],
        "version": [script, "--version"],
        "bare_interpreter": [sys.executable, "-c", "pass"],
    }
    cases = interleave(
        {name: _start(command, quiet=True) for name, command in commands.items()}, settings.import_rounds
    )
    return Row(
        "12",
        "`fibtrigger --help` and `fibtrigger --version` (the console script), a fresh process each time",
        "a bare interpreter start, `python -c pass`",
        [
            labelled("`fibtrigger --help`", at_most(compared(cases["help"], cases["bare_interpreter"]), 3.0)),
            labelled("`fibtrigger --version`", at_most(compared(cases["version"], cases["bare_interpreter"]), 3.0)),
        ],
        note=(
            "Whole process wall time in this venv. The CLI imports each command's module when the command "
            "runs or is listed, and the modules import the library inside their commands: no SQLAlchemy, "
            "Alembic, boto3 or PyMySQL at start-up; click itself is most of the cost."
        ),
        cases={name: samples.as_dict() for name, samples in cases.items()},
    )


def _importing(path: Path) -> str:
    return f"import sys; sys.path.insert(0, {str(path)!r}); import lambda_handler"


def _start(command: list[str], *, quiet: bool = False):
    def case() -> int:
        # No timeout: with one, subprocess polls with growing sleeps and rounds every start up.
        subprocess.run(command, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL if quiet else None)
        return 1

    return case
