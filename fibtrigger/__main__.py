"""``python -m fibtrigger``: the same as the ``fibtrigger`` command."""

from .cli import run

run()
