"""The argument contract shared by every entry point: limits, the check and its messages.

Standard library only: the Lambda deployment package ships this module, and
``fibtrigger`` imports it so that each fact lives once.
"""

# F(312) has 65 digits, the most a DECIMAL(65,0) column holds.
DECIMAL65_MAX_FIB = 312
# F(92) is the largest Fibonacci number in a signed 64-bit integer (SQLite INTEGER).
INT64_MAX_FIB = 92

RANGE_MESSAGE = "fib must be between 0 and {limit}, got {got}"
TYPE_MESSAGE = "fib must be an integer between 0 and {limit}, got {got}"


class ArgumentError(ValueError):
    """The argument is not a whole number in range. ``out_of_range`` tells which."""

    def __init__(self, message: str, *, out_of_range: bool = False) -> None:
        super().__init__(message)
        self.out_of_range = out_of_range


def describe(value: object) -> str:
    """A short, safe rendering of a rejected argument for an error message."""
    if value is None:
        return "NULL"
    text = repr(value) if isinstance(value, (str, bytes)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_fib(value: object, limit: int) -> int:
    """Return ``value`` as an int, or raise ArgumentError.

    bool, float and numeric strings are refused: silently coercing them would
    store a row the caller did not ask for.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(TYPE_MESSAGE.format(limit=limit, got=describe(value)))
    # The plain int inside, so an int subclass cannot answer the range check and the cast differently.
    number = int.__int__(value)
    if number < 0 or number > limit:
        raise ArgumentError(
            RANGE_MESSAGE.format(limit=limit, got=describe(number)),
            out_of_range=number > limit,
        )
    return number


def parse_fib_text(text: str, limit: int) -> int:
    """Parse a command-line argument with the same rules and messages."""
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isascii() or not digits.isdigit():
        raise ArgumentError(TYPE_MESSAGE.format(limit=limit, got=describe(text)))
    return check_fib(int(stripped), limit)


# The Lambda function's limit: FIBTRIGGER_LAMBDA_MAX_FIB, default DECIMAL65_MAX_FIB (the
# column), never above LAMBDA_HARD_MAX_FIB. F(10000) has 2090 digits: a 2 KiB response
# computed in microseconds, and far below Python's 4300-digit int/str conversion limit.
LAMBDA_MAX_FIB_ENV = "FIBTRIGGER_LAMBDA_MAX_FIB"
LAMBDA_HARD_MAX_FIB = 10000

MISSING_MESSAGE = 'fib is missing: send {{"fib": N}} with 0 <= N <= {limit}'
