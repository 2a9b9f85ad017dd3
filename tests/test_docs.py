"""The docs: generated pages are current, the README stays a front door, the site builds."""

from pathlib import Path

import pytest
from cogapp import Cog

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ["docs/cli.md", "docs/index.md", "docs/performance.md"]


@pytest.mark.parametrize("page", GENERATED)
def test_generated_page_is_current(page, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the cog blocks read README.md relative to the repository root
    status = Cog().main(["cog", "--check", page])
    assert status == 0, f"{page} is out of date: run `cog -r {page}`\n{capsys.readouterr().out}"


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines: move detail into docs/"


def test_the_cli_reference_keeps_its_conventions():
    # The hand-written part above the generated one: regenerating with an old copy drops it.
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for convention in ("## Conventions", "--json", "compute -", "_FIBTRIGGER_COMPLETE", "Exit 2"):
        assert convention in page.split("<!-- [[[cog")[0], convention
