"""What plan, deploy and destroy return: the changes, as data the CLI prints."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

@dataclass(frozen=True)
class Change:
    """One step. ``action`` is create, update or delete; keep (already as wanted); or skip
    (left alone on purpose: not fibtrigger's, or not supported by the endpoint)."""

    action: str
    kind: str
    name: str
    detail: str = ""

    def line(self) -> str:
        text = f"{self.action:<6} {self.kind} {self.name}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class Report:
    """The changes made (or, for plan, that would be made), and what deploy produced."""

    region: str
    account: str
    changes: list[Change] = field(default_factory=list)
    function_arn: str | None = None
    invoke_url: str | None = None
    notes: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    dashboard_url: str | None = None

    @property
    def next_command(self) -> str | None:
        return f"fibtrigger backend lambda --function-arn {self.function_arn}" if self.function_arn else None

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    @property
    def changed(self) -> bool:
        return any(change.action in ("create", "update", "delete") for change in self.changes)


class Recorder:
    """Records each change and runs its effect only when applying: plan records, deploy acts."""

    def __init__(self, apply: bool):
        self.apply = apply
        self.changes: list[Change] = []

    def change(self, action: str, kind: str, name: str, effect: Callable[[], T], detail: str = "") -> T | None:
        self.changes.append(Change(action, kind, name, detail))
        return effect() if self.apply else None

    def record(self, action: str, kind: str, name: str, detail: str = "") -> None:
        """A change already made (when whether it could be made was only known by trying)."""
        self.changes.append(Change(action, kind, name, detail))

    def keep(self, kind: str, name: str, detail: str = "") -> None:
        self.changes.append(Change("keep", kind, name, detail))

    def skip(self, kind: str, name: str, detail: str) -> None:
        self.changes.append(Change("skip", kind, name, detail))

    def count_changes(self) -> int:
        return sum(1 for change in self.changes if change.action != "keep")
