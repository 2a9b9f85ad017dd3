"""Where the database is, and how a URL is shown without its password."""

import os

from sqlalchemy.engine import URL, make_url

from .errors import ConfigurationError

DATABASE_URL_ENV = "FIBTRIGGER_DATABASE_URL"
DEFAULT_URL = "sqlite:///fibtrigger.db"


def raw_url(url: str | URL | None = None) -> str | URL:
    """The URL as given, else FIBTRIGGER_DATABASE_URL, else the default; not parsed."""
    return url if url is not None else os.environ.get(DATABASE_URL_ENV) or DEFAULT_URL


def database_url(url: str | URL | None = None) -> URL:
    """The URL to use: the one given, else FIBTRIGGER_DATABASE_URL, else ./fibtrigger.db."""
    raw = raw_url(url)
    try:
        parsed = make_url(raw)
    except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError or ValueError
        raise ConfigurationError(
            f"{DATABASE_URL_ENV} is not a database URL; expected e.g. "
            "mysql+pymysql://user:password@host:3306/dbname"
        ) from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        # Resolved once, so a later chdir cannot point pooled connections elsewhere.
        parsed = parsed.set(database=os.path.abspath(parsed.database))
    if parsed.get_backend_name() not in ("mysql", "mariadb", "sqlite"):
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}: use mysql+pymysql://... or sqlite:///..."
        )
    return parsed


def masked(url: str | URL) -> str:
    """The URL as text with its password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<unparseable URL>"
