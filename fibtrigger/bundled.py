"""Top-level folders of the checkout that ship inside the wheel under ``fibtrigger``."""

import importlib.util
from pathlib import Path


def bundled_dir(folder: str) -> Path:
    """``<checkout>/<folder>``, installed as the package ``fibtrigger.<folder>`` (see pyproject)."""
    spec = importlib.util.find_spec(f"fibtrigger.{folder}")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / folder
