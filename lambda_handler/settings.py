"""The function's one setting: its limit, read from its environment."""

from .contract import DECIMAL65_MAX_FIB, LAMBDA_HARD_MAX_FIB, LAMBDA_MAX_FIB_ENV


class SettingError(RuntimeError):
    """The function is misconfigured: the operator's mistake, not the caller's."""


def max_fib(environ) -> int:
    """The largest accepted fib: ``FIBTRIGGER_LAMBDA_MAX_FIB``, else 312 (DECIMAL(65,0))."""
    raw = environ.get(LAMBDA_MAX_FIB_ENV)
    if raw is None or raw.strip() == "":
        return DECIMAL65_MAX_FIB
    text = raw.strip()
    if text.isascii() and text.isdigit() and int(text) <= LAMBDA_HARD_MAX_FIB:
        return int(text)
    shown = text if len(text) <= 40 else text[:37] + "..."
    raise SettingError(
        f"{LAMBDA_MAX_FIB_ENV} must be an integer between 0 and {LAMBDA_HARD_MAX_FIB}, got {shown!r}"
    )
