"""fibtrigger: a MySQL table as a function's call interface.

    >>> from fibtrigger import compute
    >>> compute(10)
    55

The errors load with the package; the table (and so SQLAlchemy) on first use of
``compute``, ``compute_many``, ``default_table`` or ``FibonacciTable``, so that the CLI and
``fibtrigger.errors`` start without it.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .errors import (
    BackendError,
    ConfigurationError,
    ConnectionLost,
    ConstraintViolated,
    DatabaseUnreachable,
    DuplicateKey,
    FibtriggerError,
    InvalidArgument,
    KeyExhausted,
    OutcomeUnknown,
    PermissionDenied,
    ResultMismatch,
    ResultOutOfRange,
    ResultPending,
    SchemaNotInstalled,
    StatementTimeout,
)

if TYPE_CHECKING:
    from .table import FibonacciTable, compute, compute_many, default_table

_FROM_TABLE = ("FibonacciTable", "compute", "compute_many", "default_table")


def __getattr__(name: str) -> Any:
    if name in _FROM_TABLE:
        from . import table

        return getattr(table, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BackendError",
    "ConfigurationError",
    "ConnectionLost",
    "DatabaseUnreachable",
    "ConstraintViolated",
    "DuplicateKey",
    "FibonacciTable",
    "FibtriggerError",
    "InvalidArgument",
    "KeyExhausted",
    "OutcomeUnknown",
    "PermissionDenied",
    "ResultMismatch",
    "ResultOutOfRange",
    "ResultPending",
    "SchemaNotInstalled",
    "StatementTimeout",
    "compute",
    "compute_many",
    "default_table",
]
