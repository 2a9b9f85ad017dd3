"""Command-line tools of the test extra: the one next to this Python (the venv's), else the one on PATH."""

import shutil
import sys
from pathlib import Path


def installed_tool(name: str) -> str | None:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)
