"""Put an installed schema back as its head revision defines it: the twin of `fibtrigger migrate --repair`.

`fibtrigger migrate` does nothing at head, so a trigger or function dropped or edited by hand,
or an id counter pushed to its end, needs this instead. It recreates the functions and both
triggers (keeping the backend the surviving trigger names), and renumbers the hidden ids when
more than half of them are used. Everything here needs the migrator's grants.
"""

from dataclasses import dataclass

from sqlalchemy.engine import URL, Connection

from . import backend, migrate
from .config import database_url
from .database import make_engine, translate
from .errors import SchemaNotInstalled
from .schema import mysql, sqlite
from .schema.objects import Trigger


@dataclass(frozen=True)
class IdHeadroom:
    next_id: int
    limit: int = mysql.ID_MAX

    @property
    def exhausted(self) -> bool:
        return self.next_id >= self.limit  # InnoDB hands out no id once its counter reaches the maximum

    @property
    def ok(self) -> bool:
        return self.next_id <= mysql.ID_ALARM


def id_headroom(connection: Connection) -> IdHeadroom:
    """The next id fibonacci's AUTO_INCREMENT would hand out (MySQL-family only)."""
    try:
        connection.exec_driver_sql(mysql.FRESH_STATISTICS)
    except Exception:  # noqa: BLE001 - MariaDB has no such variable and no such cache
        pass
    return IdHeadroom(int(connection.exec_driver_sql(mysql.SELECT_NEXT_ID).scalar_one()))


def repair(url: str | URL | None = None) -> list[str]:
    """Repair the schema at ``url``; return what was done, one line each."""
    url = database_url(url)
    from .doctor import head_revision  # doctor imports this module

    head = head_revision()
    if migrate.current(url) != head:
        raise SchemaNotInstalled(f"the schema is not at revision {head}: run `fibtrigger migrate` first")
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            if url.get_backend_name() == "sqlite":
                return _repair_sqlite(connection)
            return _repair_mysql(connection)
    except Exception as error:
        raise translate(error, url) from None
    finally:
        engine.dispose()


def _repair_mysql(connection: Connection) -> list[str]:
    done = []
    # Outside the table lock (MySQL refuses routine DDL under LOCK TABLES): an insert in the
    # instant between DROP and CREATE FUNCTION fails loudly (1305), it never stores a wrong value.
    for function in (mysql.FIBCOMP, *mysql.BACKEND_OBJECTS):
        function.replace(connection)
        done.append(f"function {function.name} reinstalled")
    state = backend.reinstall_triggers(connection)
    done.append(f"triggers reinstalled (backend {state})")
    headroom = id_headroom(connection)
    if not headroom.ok:
        connection.exec_driver_sql(mysql.LOCK_TABLE)
        try:
            connection.exec_driver_sql(mysql.RENUMBER_IDS)
        finally:
            connection.exec_driver_sql(mysql.UNLOCK_TABLES)
        done.append(f"hidden ids renumbered: the next id was {headroom.next_id}, now {id_headroom(connection).next_id}")
    return done


def _repair_sqlite(connection: Connection) -> list[str]:
    # BEGIN IMMEDIATE: writers wait, and no insert runs while a trigger is missing.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        for obj in sqlite.OBJECTS:
            if isinstance(obj, Trigger):
                obj.replace(connection)
    except BaseException:
        connection.exec_driver_sql("ROLLBACK")
        raise
    connection.exec_driver_sql("COMMIT")
    return ["triggers reinstalled"]
