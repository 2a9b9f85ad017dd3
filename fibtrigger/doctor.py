"""Health checks for a configured database: the twin of `fibtrigger doctor`.

Each check is ok, failed, or skipped: a caller account (INSERT and SELECT on fibonacci only)
may not read the revision or see the triggers, and doctor says so instead of failing. The
test call inserts a row in a transaction it rolls back, so the backend really runs (a
stopped Lambda fails it) and the table is unchanged.
"""

from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import text

from . import backend, check, migrate, repair
from .config import database_url, masked
from .database import make_engine, translate, translated
from .errors import BackendError, FibtriggerError, KeyExhausted, PermissionDenied, SchemaNotInstalled
from .schema import dialect_module, mysql

# The test call's argument and the value its row must hold.
TEST_FIB, TEST_VALUE = 10, 55
CALLER_NOTE = "a caller account (INSERT and SELECT on fibonacci) may not read it"

REPAIR_FIX = "run `fibtrigger migrate --repair` (on MySQL, as the migrator)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False

    @property
    def status(self) -> str:
        return "skip" if self.skipped else "ok" if self.ok else "fail"


def skipped(name: str, detail: str) -> Check:
    return Check(name, True, detail, skipped=True)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def diagnose(url=None) -> list[Check]:
    """Run every check; stop early only when the URL is unusable or the server cannot be reached."""
    url = database_url(url)
    if url.get_backend_name() != "sqlite" and not url.database:
        return [
            Check(
                "database URL",
                False,
                f"{masked(url)} names no database",
                "add the database to the URL, e.g. mysql+pymysql://user:password@host:3306/app",
            )
        ]
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
    revision = _revision_check(url)
    checks.append(revision)
    test_call = _test_call(connection, url, queued=not sqlite and _on_queue(connection))
    checks.append(_objects_check(connection, sqlite, test_call))
    if revision.ok and not revision.skipped:
        checks.append(_drift_check(connection))
    if not sqlite:
        if backend.table_exists(connection):
            checks.append(_id_check(connection))
        checks.append(_binlog_check(connection))
        checks += _backend_checks(connection)
    checks.append(test_call)
    return checks


def _revision_check(url) -> Check:
    try:
        revision = migrate.current(url)
    except PermissionDenied:
        return skipped("schema revision", f"{CALLER_NOTE} (alembic_version)")
    head = head_revision()
    return Check(
        "schema revision",
        revision == head,
        f"at {revision or 'nothing installed'}, head is {head}",
        "" if revision == head else "run `fibtrigger migrate`",
    )


def _on_queue(connection) -> bool:
    try:
        return backend.backend_of(connection).name == backend.QUEUE
    except FibtriggerError:  # reported by the backend check
        return False


def _test_call(connection, url, *, queued: bool) -> Check:
    """INSERT fib 10 in a transaction, read the value back, roll back: the trigger and its backend ran.
    On the queue backend the row waits for a worker, so its value is NULL."""
    name = "test call"
    sql = dialect_module(connection.dialect.name)
    # The engine autocommits, so the transaction is the server's own BEGIN ... ROLLBACK.
    try:
        connection.exec_driver_sql("BEGIN")
        try:
            connection.exec_driver_sql(sql.INSERT_ROWS.format(rows=f"({TEST_FIB})"))
            value = connection.exec_driver_sql(sql.SELECT_LAST_INSERTED).scalar()
        finally:
            connection.exec_driver_sql("ROLLBACK")
    except Exception as error:  # noqa: BLE001 - reported, not raised
        failure = error if isinstance(error, FibtriggerError) else translate(error, url)
        return Check(name, False, " ".join(str(failure).split()), _fix_for(failure))
    if queued and value is None:
        return Check(name, True, f"INSERT ({TEST_FIB}, NULL) queued for a worker, rolled back")
    if value is None or int(value) != TEST_VALUE:
        detail = f"INSERT ({TEST_FIB}, NULL) stored {value}, not {TEST_VALUE}"
        return Check(name, False, detail, REPAIR_FIX)
    return Check(name, True, f"INSERT ({TEST_FIB}, NULL) stored {TEST_VALUE}, rolled back")


def _fix_for(error: FibtriggerError) -> str:
    if isinstance(error, SchemaNotInstalled):
        # A missing table needs the migrations; a function or trigger missing at head, the repair.
        return "run `fibtrigger migrate`, and if it is already at head `fibtrigger migrate --repair`"
    if isinstance(error, KeyExhausted):
        return REPAIR_FIX
    if isinstance(error, PermissionDenied):
        return "`fibtrigger grants --role caller` prints what the account needs"
    if isinstance(error, BackendError):
        return ("check the Lambda function (`fibtrigger local status` for the local one), "
                "or compute in the database with `fibtrigger backend sql`")
    return ""


def _flavour(connection) -> str:
    version, comment = connection.execute(text("SELECT VERSION(), @@version_comment")).one()
    aurora = connection.execute(text("SHOW VARIABLES LIKE 'aurora_version'")).first()
    if aurora is not None:
        return f"Aurora MySQL {aurora[1]} (MySQL {version})"
    flavour = "MariaDB" if "mariadb" in f"{version} {comment}".lower() else "MySQL"
    return f"{flavour} {version}"


def _objects_check(connection, sqlite: bool, test_call: Check) -> Check:
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
    if not ok and test_call.ok:
        # information_schema shows triggers and routines only to accounts with privileges on them.
        seen = f"sees {', '.join(found)}" if found else "sees none of them"
        return skipped("function and triggers", f"this account {seen}; the test call shows the triggers work")
    return Check(
        "function and triggers",
        ok,
        ", ".join(found) or "none found",
        "" if ok else REPAIR_FIX,
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
    return Check("drift", False, found, f"{REPAIR_FIX} (`fibtrigger check` shows the diff)")


def _id_check(connection) -> Check:
    headroom = repair.id_headroom(connection)
    if headroom.ok:
        return Check("hidden id", True, f"next id {headroom.next_id} of {headroom.limit}")
    state = "exhausted: every insert fails" if headroom.exhausted else "more than half used"
    return Check("hidden id", False, f"next id {headroom.next_id} of {headroom.limit}, {state}", REPAIR_FIX)


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
    except PermissionDenied:
        return checks + [skipped("backend", f"{CALLER_NOTE} (the trigger's text)")]
    except SchemaNotInstalled as error:
        if _table_exists(connection):
            if connection.exec_driver_sql(mysql.SELECT_TRIGGER_BODIES).all():
                # This account sees trigger bodies, so one of ours is really missing.
                return checks + [Check("backend", False, str(error), REPAIR_FIX)]
            # MySQL hides triggers from an account without the TRIGGER privilege.
            return checks + [skipped("backend", f"{CALLER_NOTE} (the trigger's text)")]
        return checks + [Check("backend", False, str(error), "run `fibtrigger migrate`")]
    except FibtriggerError as error:
        return checks + [Check("backend", False, str(error), REPAIR_FIX)]
    ok = state.name != backend.LAMBDA or available
    checks.append(
        Check(
            "backend",
            ok,
            str(state) if ok else f"{state}, but this server has no lambda_sync: every insert fails",
            "" if ok else "run `fibtrigger backend sql`, or use Aurora MySQL / `fibtrigger local up`",
        )
    )
    return checks


def _table_exists(connection) -> bool:
    try:
        connection.exec_driver_sql("SELECT 1 FROM fibonacci LIMIT 0").all()
    except Exception:  # noqa: BLE001 - any refusal means this account cannot use the table
        return False
    return True
