"""Least-privilege GRANT statements, built from data: the twin of `fibtrigger grants`."""

import re

from .errors import ConfigurationError

# What the migrations and the backend swap need, and nothing more: taking any one away breaks
# them (tests/test_security_privileges.py). CREATE/DROP: the table and alembic_version.
# TRIGGER, CREATE ROUTINE: the triggers, fibcomp and fiblambda. ALTER ROUTINE, EXECUTE: dropping
# routines another account created, and running them as the triggers' definer (MySQL grants both
# to a routine's creator on its own routines, not on others'). LOCK TABLES: the swap replaces the
# triggers under LOCK TABLES (`fibtrigger backend`, revision 0002's downgrade). SELECT, INSERT,
# UPDATE, DELETE: alembic_version, fibtrigger_settings, and computing waiting rows when the swap
# leaves the queue backend. ALTER: revision 0003 adds the queue's columns and index (ALTER TABLE
# needs no INDEX privilege for that), and `fibtrigger migrate --repair` renumbers the hidden ids
# when their counter nears its end (InnoDB's counter moves only by ALTER TABLE).
MIGRATOR_PRIVILEGES = (
    "CREATE", "DROP", "ALTER", "TRIGGER", "CREATE ROUTINE", "ALTER ROUTINE", "EXECUTE", "LOCK TABLES",
    "SELECT", "INSERT", "UPDATE", "DELETE",
)
# The trigger and fibcomp run as their definer, so a caller needs no EXECUTE.
CALLER_PRIVILEGES = ("INSERT", "SELECT")
# A queue worker reads and claims rows, writes values back, and reads the function ARN.
WORKER_PRIVILEGES = ("SELECT", "UPDATE")
WORKER_SETTINGS_PRIVILEGES = ("SELECT",)

ROLES = ("migrator", "caller", "worker", "lambda-definer")

# Aurora MySQL v3 grants Lambda invocation through a role. A trigger runs as
# its definer with only the definer's default roles active, hence SET DEFAULT
# ROLE; v2 (MySQL 5.7) has a global privilege instead. The backend swap also
# locks fibonacci while it replaces the triggers, whose definer this account is.
LAMBDA_ROLE = "AWS_LAMBDA_ACCESS"
LAMBDA_V2_PRIVILEGE = "INVOKE LAMBDA"
SWAP_PRIVILEGES = ("LOCK TABLES",)

_ACCOUNT_PART = re.compile(r"[A-Za-z0-9_.%:-]{1,80}")
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_$]{1,64}")


def account(user: str, host: str) -> str:
    for label, part in (("user", user), ("host", host)):
        if not _ACCOUNT_PART.fullmatch(part):
            raise ConfigurationError(
                f"{label} {part!r} is not a plain account name: use letters, digits and _ . % : -"
            )
    return f"'{user}'@'{host}'"


def grant_statements(role: str, user: str, host: str, schema: str) -> list[str]:
    """The GRANT statements that give ``user@host`` exactly ``role`` on ``schema``."""
    if not _SCHEMA_NAME.fullmatch(schema or ""):
        raise ConfigurationError(f"schema {schema!r} is not a plain MySQL database name")
    who = account(user, host)
    if role == "migrator":
        return [f"GRANT {', '.join(MIGRATOR_PRIVILEGES)} ON `{schema}`.* TO {who};"]
    if role == "caller":
        return [f"GRANT {', '.join(CALLER_PRIVILEGES)} ON `{schema}`.`fibonacci` TO {who};"]
    if role == "worker":
        return [
            f"GRANT {', '.join(WORKER_PRIVILEGES)} ON `{schema}`.`fibonacci` TO {who};",
            f"GRANT {', '.join(WORKER_SETTINGS_PRIVILEGES)} ON `{schema}`.`fibtrigger_settings` TO {who};",
        ]
    if role == "lambda-definer":
        return [
            f"GRANT {LAMBDA_ROLE} TO {who};",
            f"SET DEFAULT ROLE {LAMBDA_ROLE} TO {who};",
            f"GRANT {', '.join(SWAP_PRIVILEGES)} ON `{schema}`.* TO {who};",
            f"-- Aurora MySQL v2 instead of the first two: GRANT {LAMBDA_V2_PRIVILEGE} ON *.* TO {who};",
        ]
    raise ConfigurationError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
