"""Least-privilege GRANT statements, built from data: the twin of `fibtrigger grants`."""

import re

from .errors import ConfigurationError

# What Alembic needs to create, replace and drop the table, fibcomp, the triggers and alembic_version.
MIGRATOR_PRIVILEGES = (
    "CREATE", "DROP", "ALTER", "INDEX", "TRIGGER", "CREATE ROUTINE", "ALTER ROUTINE",
    "EXECUTE", "SELECT", "INSERT", "UPDATE", "DELETE",
)
# The trigger and fibcomp run as their definer, so a caller needs no EXECUTE.
CALLER_PRIVILEGES = ("INSERT", "SELECT")

ROLES = ("migrator", "caller")

_ACCOUNT_PART = re.compile(r"^[A-Za-z0-9_.%:-]{1,80}$")
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")


def account(user: str, host: str) -> str:
    for label, part in (("user", user), ("host", host)):
        if not _ACCOUNT_PART.match(part):
            raise ConfigurationError(
                f"{label} {part!r} is not a plain account name: use letters, digits and _ . % : -"
            )
    return f"'{user}'@'{host}'"


def grant_statements(role: str, user: str, host: str, schema: str) -> list[str]:
    """The GRANT statements that give ``user@host`` exactly ``role`` on ``schema``."""
    if not _SCHEMA_NAME.match(schema or ""):
        raise ConfigurationError(f"schema {schema!r} is not a plain MySQL database name")
    who = account(user, host)
    if role == "migrator":
        return [f"GRANT {', '.join(MIGRATOR_PRIVILEGES)} ON `{schema}`.* TO {who};"]
    if role == "caller":
        return [f"GRANT {', '.join(CALLER_PRIVILEGES)} ON `{schema}`.`fibonacci` TO {who};"]
    raise ConfigurationError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
