"""Health checks for a configured database: the twin of `fibtrigger doctor`."""

from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import text

from . import backend, check, migrate
from .config import database_url, masked
from .database import make_engine, translated
from .errors import FibtriggerError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def head_revision() -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def diagnose(url=None) -> list[Check]:
    """Run every check; stop early only when the server cannot be reached."""
    url = database_url(url)
    checks = [Check("database URL", True, masked(url))]
    engine = make_engine(url, pool_size=1)
    try:
        with translated(url, dialect=engine.dialect) as call, engine.connect() as connection:
            call.connected = True
            checks += _server_checks(connection, url)
    except FibtriggerError as error:  # reported, not raised
        checks.append(Check("connect", False, str(error)))
        return checks
    finally:
        engine.dispose()
    return checks


def _server_checks(connection, url) -> list[Check]:
    sqlite = url.get_backend_name() == "sqlite"
    checks = [Check("connect", True, "reached the database")]
    if sqlite:
        version = connection.execute(text("SELECT sqlite_version()")).scalar()
        checks.append(Check("server", True, f"SQLite {version} (embedded default, limit fib <= 92)"))
    else:
        checks.append(Check("server", True, _flavour(connection)))
    revision = migrate.current(url)
    head = head_revision()
    checks.append(
        Check(
            "schema revision",
            revision == head,
            f"at {revision or 'nothing installed'}, head is {head}",
            "" if revision == head else "run `fibtrigger migrate`",
        )
    )
    checks.append(_objects_check(connection, sqlite))
    if revision == head:
        checks.append(_drift_check(connection))
    if not sqlite:
        checks.append(_binlog_check(connection))
        checks += _backend_checks(connection)
    return checks


def _flavour(connection) -> str:
    version, comment = connection.execute(text("SELECT VERSION(), @@version_comment")).one()
    aurora = connection.execute(text("SHOW VARIABLES LIKE 'aurora_version'")).first()
    if aurora is not None:
        return f"Aurora MySQL {aurora[1]} (MySQL {version})"
    flavour = "MariaDB" if "mariadb" in f"{version} {comment}".lower() else "MySQL"
    return f"{flavour} {version}"


def _objects_check(connection, sqlite: bool) -> Check:
    if sqlite:
        rows = connection.execute(
            text("SELECT type, name FROM sqlite_master WHERE tbl_name = 'fibonacci' AND type IN ('table', 'trigger')")
        ).all()
    else:
        rows = connection.execute(
            text(
                "SELECT 'function', ROUTINE_NAME FROM information_schema.ROUTINES "
                "WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'fibcomp' "
                "UNION ALL SELECT 'trigger', TRIGGER_NAME FROM information_schema.TRIGGERS "
                "WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'fibonacci'"
            )
        ).all()
    found = sorted(f"{kind} {name}" for kind, name in rows)
    expected_triggers = 4 if sqlite else 2
    ok = sum(kind == "trigger" for kind, _ in rows) >= expected_triggers and (
        sqlite or any(kind == "function" for kind, _ in rows)
    )
    return Check(
        "function and triggers",
        ok,
        ", ".join(found) or "none found",
        "" if ok else "run `fibtrigger migrate`",
    )


def _drift_check(connection) -> Check:
    """`fibtrigger check` in one line: the live objects against revision head's declarations."""
    try:
        drifts = check.drift_of(connection)
    except FibtriggerError as error:
        return Check("drift", False, str(error))
    if not drifts:
        return Check("drift", True, "table, functions and triggers as revision head declares them")
    found = ", ".join(f"{drift.label} {drift.change}" for drift in drifts)
    return Check("drift", False, found, "`fibtrigger check` shows the diff; `alembic revision --autogenerate` restores")


def _binlog_check(connection) -> Check:
    log_bin, trust = connection.execute(text("SELECT @@log_bin, @@log_bin_trust_function_creators")).one()
    if not int(log_bin) or int(trust):
        return Check("binary logging", True, f"log_bin={int(log_bin)}, log_bin_trust_function_creators={int(trust)}")
    return Check(
        "binary logging",
        False,
        "log_bin=1 and log_bin_trust_function_creators=0: CREATE FUNCTION may fail with error 1418/1419",
        "set log_bin_trust_function_creators=1 (on Aurora/RDS, in the DB cluster parameter group)",
    )


def _backend_checks(connection) -> list[Check]:
    """Whether lambda_sync exists here, and which backend the triggers use."""
    available = backend.lambda_sync_available(connection)
    where = "built in (Aurora MySQL)" if _flavour(connection).startswith("Aurora") else "the local UDF"
    checks = [
        Check(
            "lambda_sync",
            True,
            f"available ({where})" if available else "not available: the lambda backend needs Aurora MySQL "
            "or the local lambda_sync (`fibtrigger local up`)",
        )
    ]
    try:
        state = backend.backend_of(connection)
    except FibtriggerError as error:
        return checks + [Check("backend", False, str(error), "run `fibtrigger migrate`, then `fibtrigger backend sql`")]
    ok = state.name == backend.SQL or available
    checks.append(
        Check(
            "backend",
            ok,
            str(state) if ok else f"{state}, but this server has no lambda_sync: every insert fails",
            "" if ok else "run `fibtrigger backend sql`, or use Aurora MySQL / `fibtrigger local up`",
        )
    )
    return checks
