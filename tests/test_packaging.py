"""The wheel's layout as pyproject.toml declares it: every package listed, typed, lambda_handler inside."""

import tomllib
from pathlib import Path

import fibtrigger

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_under_fibtrigger_is_in_the_wheel():
    listed = set(PROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in (ROOT / "fibtrigger").rglob("__init__.py")
        if "__pycache__" not in path.parts
    }
    assert found <= listed, found - listed
    # lambda_handler/ ships only inside fibtrigger, never as a top-level package of its own.
    assert "lambda_handler" not in listed
    assert PROJECT["tool"]["setuptools"]["package-dir"]["fibtrigger.lambda_function"] == "lambda_handler"


def test_typed_and_versioned_in_one_place():
    assert (ROOT / "fibtrigger" / "py.typed").is_file()
    assert "py.typed" in PROJECT["tool"]["setuptools"]["package-data"]["fibtrigger"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fibtrigger.__version__"}
    assert fibtrigger.__version__.count(".") == 2


def test_the_core_install_leaves_boto3_to_the_aws_extra():
    names = [requirement.split(">")[0].split("[")[0].lower() for requirement in PROJECT["project"]["dependencies"]]
    assert sorted(names) == ["alembic", "click", "pymysql", "sqlalchemy"]
    assert any(r.startswith("boto3") for r in PROJECT["project"]["optional-dependencies"]["aws"])
