"""fibtrigger: a MySQL table as a function's call interface.

    >>> from fibtrigger import compute
    >>> compute(10)
    55
"""

from .errors import (
    BackendError,
    ConfigurationError,
    DatabaseUnreachable,
    FibtriggerError,
    InvalidArgument,
    ResultMismatch,
    ResultOutOfRange,
    SchemaNotInstalled,
)
from .table import FibonacciTable, compute, compute_many, default_table

__all__ = [
    "BackendError",
    "ConfigurationError",
    "DatabaseUnreachable",
    "FibonacciTable",
    "FibtriggerError",
    "InvalidArgument",
    "ResultMismatch",
    "ResultOutOfRange",
    "SchemaNotInstalled",
    "compute",
    "compute_many",
    "default_table",
]
