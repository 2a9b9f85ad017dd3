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


# Longer than any limit by far, and short enough for int() (which refuses over 4,300 digits).
MAX_ARGUMENT_DIGITS = 40


def describe(value: object) -> str:
    """A short, safe rendering of a rejected argument for an error message."""
    if value is None:
        return "NULL"
    if isinstance(value, int) and not isinstance(value, bool):
        number = int.__int__(value)
        if number.bit_length() > 256:  # str() refuses ints over 4,300 digits; no message needs them all
            return f"{'-' if number < 0 else ''}an integer of {number.bit_length()} bits"
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
    if len(digits.lstrip("0")) > MAX_ARGUMENT_DIGITS:
        shown = stripped if len(stripped) <= 40 else stripped[:37] + "..."
        raise ArgumentError(RANGE_MESSAGE.format(limit=limit, got=shown), out_of_range=stripped[0] != "-")
    return check_fib(int(stripped), limit)


# The Lambda function's limit: FIBTRIGGER_LAMBDA_MAX_FIB, default DECIMAL65_MAX_FIB (the
# column), never above LAMBDA_HARD_MAX_FIB. F(10000) has 2090 digits: a 2 KiB response
# computed in microseconds, and far below Python's 4300-digit int/str conversion limit.
LAMBDA_MAX_FIB_ENV = "FIBTRIGGER_LAMBDA_MAX_FIB"
LAMBDA_HARD_MAX_FIB = 10000

MISSING_MESSAGE = 'fib is missing: send {{"fib": N}} with 0 <= N <= {limit}'

# The batch event {"fibs": [N, ...]}: one invocation, one answer per item, in order. 1000 answers
# of F(10000) (2090 digits each) stay under Lambda's 6 MB synchronous response limit.
BATCH_KEY = "fibs"
MAX_BATCH_ITEMS = 1000
BATCH_MESSAGE = 'fibs must be a JSON array of at most {most} integers, got {got}'

# F(312), the largest value DECIMAL(65,0) holds, has 65 digits.
DECIMAL65_DIGITS = 65


class AnswerError(ValueError):
    """The function's answer for one argument is malformed or for another argument."""


ANSWER_KEYS = frozenset({"fib", "value", "number"})


class RepeatedKeys(tuple):
    """What ``load_answer`` makes of a JSON object with a repeated key: never a dict, so it is
    refused wherever an object is expected (that item alone, in a batch)."""


def _object_or_repeated(pairs: list) -> "dict | RepeatedKeys":
    keys = [key for key, _ in pairs]
    return RepeatedKeys(keys) if len(set(keys)) != len(keys) else dict(pairs)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load_answer(text: str | bytes) -> object:
    """Parse the function's answer as strictly as the database's JSON functions do: an object with
    a repeated key becomes a RepeatedKeys (refused by ``answer_value``), not silently its last
    value; NaN and Infinity raise ValueError, like any text that is not JSON."""
    import json  # here, not at the top: the handler's cold start loads no json until it needs it

    return json.loads(text, object_pairs_hook=_object_or_repeated, parse_constant=_refuse_constant)


def _is_json_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def answer_value(answer: object, fib: int, max_digits: int = DECIMAL65_DIGITS) -> int:
    """The exact value of one answer ``{"fib": fib, "value": "digits"[, "number": n]}``, checked as
    strictly as the database's fiblambda does: an object with no other key, ``fib`` a JSON number
    equal to the argument, ``value`` a string of 1 to ``max_digits`` ASCII digits (and ``number``,
    if present, a JSON number equal to it). Parse it with ``load_answer`` so repeated keys are refused."""
    if isinstance(answer, RepeatedKeys):
        raise AnswerError(f"the answer for fib {fib} repeats a key: {describe(', '.join(answer))}")
    if not isinstance(answer, dict):
        raise AnswerError(f"the answer for fib {fib} is not a JSON object")
    if "errorMessage" in answer or "errorType" in answer:
        raise AnswerError(f"{answer.get('errorType', 'Error')}: {answer.get('errorMessage', '')}"[:300])
    got = answer.get("fib")
    if not _is_json_number(got) or got != fib:
        raise AnswerError(f"asked for fib {fib}, the answer is for {describe(got)}")
    value = answer.get("value")
    if not isinstance(value, str) or not 1 <= len(value) <= max_digits or not (value.isascii() and value.isdigit()):
        raise AnswerError(f"the answer for fib {fib} has no value of 1 to {max_digits} digits: {describe(value)}")
    exact = int(value)
    if "number" in answer and (not _is_json_number(answer["number"]) or answer["number"] != exact):
        raise AnswerError(
            f"the answer for fib {fib} has a number {describe(answer['number'])} that differs from its value"
        )
    extra = set(answer) - ANSWER_KEYS
    if extra:
        keys = describe(", ".join(sorted(extra)))
        raise AnswerError(f"the answer for fib {fib} has keys other than fib, value, number: {keys}")
    return exact
