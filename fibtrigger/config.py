"""Where the database is, and how a URL is shown without its password."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_plus

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

from .errors import ConfigurationError

DATABASE_URL_ENV = "FIBTRIGGER_DATABASE_URL"
DEFAULT_URL = "sqlite:///fibtrigger.db"
# How long the facade's inserts wait for a lock another session holds (a caller's SELECT ... FOR
# UPDATE, a backend swap's LOCK TABLES) before LockWaitTimeout, instead of the server's 50 s
# (InnoDB) or a year (metadata locks). Whole seconds: innodb_lock_wait_timeout takes no fraction.
LOCK_WAIT_ENV = "FIBTRIGGER_LOCK_WAIT_TIMEOUT"
DEFAULT_LOCK_WAIT_SECONDS = 5


def raw_url(url: str | URL | None = None) -> str | URL:
    """The URL as given, else FIBTRIGGER_DATABASE_URL, else the default; not parsed."""
    return url if url is not None else os.environ.get(DATABASE_URL_ENV) or DEFAULT_URL


def database_url(url: str | URL | None = None, *, source: str = "the URL given") -> URL:
    """The URL to use: the one given, else FIBTRIGGER_DATABASE_URL, else ./fibtrigger.db.
    ``source`` names a given URL in the error for one that does not parse."""
    from sqlalchemy.engine import make_url  # loaded on first use: the CLI starts without SQLAlchemy

    raw = raw_url(url)
    try:
        parsed = make_url(raw)
        if isinstance(raw, str) and "@" in f"{parsed.host}{parsed.database}":
            parsed = make_url(_encoded_password(raw))
    except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError or ValueError
        raise ConfigurationError(
            f"{DATABASE_URL_ENV if url is None else source} is not a database URL; expected e.g. mysql+pymysql://user:password@host:3306/dbname"
        ) from None
    parsed = _password_in_its_place(parsed)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        # Resolved once, so a later chdir cannot point pooled connections elsewhere.
        parsed = parsed.set(database=os.path.abspath(parsed.database))
    if parsed.get_backend_name() not in ("mysql", "mariadb", "sqlite"):
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}: use mysql+pymysql://... or sqlite:///..."
        )
    return parsed


# Query keys the MySQL drivers take as a password (password, passwd, password1..3 for
# multi-factor, ssl passphrases): masked wherever a URL is shown.
_SECRET_KEY = re.compile(r"pass|secret|token", re.IGNORECASE)
# user:password@host in URL text, the password taken up to the last '@' that a host[:port]
# follows: a password with an unencoded '@', '/', '?' or '#' is masked whole.
_USERINFO = re.compile(
    r"^(?P<scheme>[^:/?#]*://)(?P<user>[^:/?#@]*):(?P<password>.*)@"
    r"(?P<rest>(?:\[[0-9A-Fa-f:.%]*\]|[A-Za-z0-9._%-]*)(?::[0-9]*)?(?:[/?#].*)?)$",
    re.DOTALL,
)
_QUERY_PAIR = re.compile(r"(?P<lead>[?&;])(?P<key>[^=&;#]*)=(?P<value>[^&;#]*)")


def _encoded_password(raw: str) -> str:
    """URL text whose password held an unencoded '@' (make_url splits at the first one), encoded."""
    found = _USERINFO.match(raw)
    if found is None:
        return raw
    return f"{found['scheme']}{found['user']}:{quote(found['password'], safe='')}@{found['rest']}"


def _password_in_its_place(url: URL) -> URL:
    """The password where SQLAlchemy hides it, not in ``?password=`` or ``?passwd=``."""
    for key in ("password", "passwd"):
        if key in url.query:
            value = url.query[key]
            if url.password is not None or not isinstance(value, str):
                raise ConfigurationError(
                    f"{DATABASE_URL_ENV} gives the password more than once (in the URL and as ?{key}=): give it once"
                )
            url = url.difference_update_query([key]).set(password=value)
    return url


def masked(url: str | URL) -> str:
    """The URL as text with its password replaced by ***, in every form the drivers accept."""
    if not isinstance(url, str):  # a sqlalchemy URL
        text = url.render_as_string(hide_password=True)
    else:
        found = _USERINFO.match(url)
        text = f"{found['scheme']}{found['user']}:***@{found['rest']}" if found else url
        if "://" not in text:
            return "<unparseable URL>"
    return _QUERY_PAIR.sub(_masked_pair, text)


def _masked_pair(pair: re.Match) -> str:
    if _SECRET_KEY.search(unquote_plus(pair["key"])):
        return f"{pair['lead']}{pair['key']}=***"
    return pair[0]
