"""Alembic, driven from Python: the twin of `fibtrigger migrate` and `alembic upgrade head`."""

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import URL

from .bundled import bundled_dir
from .config import database_url
from .database import Call, configuring, driver_arguments, translated
from .schema import sqlite


def migrations_dir() -> Path:
    """The Alembic scripts: ``migrations/`` in a checkout, ``fibtrigger/migrations`` when installed."""
    return bundled_dir("migrations")


def alembic_config(url: str | URL | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Passed as an object, never through the ini parser, which would mangle '%' in passwords.
    config.attributes["url"] = database_url(url)
    return config


def migration_engine(url: URL):
    """A plain transactional engine: SQLite runs the whole upgrade in one transaction."""
    driver_url, connect_args = driver_arguments(url)
    if url.get_backend_name() == "sqlite":
        connect_args = {**connect_args, "timeout": SQLITE_BUSY_SECONDS}
    with configuring(url):
        return create_engine(driver_url, poolclass=pool.NullPool, connect_args=connect_args)


def upgrade(url: str | URL | None = None, revision: str = "head") -> str | None:
    """Upgrade the schema; return the revision it is at afterwards."""
    config = alembic_config(url)
    _run(command.upgrade, config, revision)
    return current(url)


def install_once(url: str | URL | None = None) -> None:
    """Install the schema at head unless it is there: the SQLite default's first use, safe from
    any number of processes. BEGIN IMMEDIATE takes SQLite's write lock before looking, so one
    process installs while the others wait (busy timeout) and then find the table."""
    url = database_url(url)
    engine = migration_engine(url)
    try:
        with translated(url, dialect=engine.dialect) as call, engine.connect() as connection:
            call.connected = True
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            if connection.exec_driver_sql(sqlite.SELECT_TABLE).first() is None:
                config = alembic_config(url)
                config.attributes["connection"] = connection  # migrations/env.py runs on it, inside the lock
                command.upgrade(config, "head")
            connection.commit()
    finally:
        engine.dispose()


# sqlite3's default 5 s is short when several processes install and migrate at once.
SQLITE_BUSY_SECONDS = 30


def upgrade_sql(url: str | URL | None = None, revision: str = "head") -> str:
    """The upgrade as a SQL script for the URL's dialect, without connecting (``alembic upgrade
    head --sql``): for MySQL, `mariadb DBNAME < script.sql` applies it. ``revision`` may be a
    range, ``0001:head``, to start from a revision the database already has."""
    return _script(command.upgrade, url, revision)


def downgrade_sql(url: str | URL | None = None, revision: str = "head:base") -> str:
    """The downgrade as a SQL script (``alembic downgrade head:base --sql``)."""
    return _script(command.downgrade, url, revision)


def _script(action, url, revision: str) -> str:
    config = alembic_config(url)
    buffer = io.StringIO()
    config.attributes["output_buffer"] = buffer
    with translated(config.attributes["url"]):
        action(config, revision, sql=True)
    return buffer.getvalue()


def downgrade(url: str | URL | None = None, revision: str = "base") -> str | None:
    config = alembic_config(url)
    _run(command.downgrade, config, revision)
    return current(url)


def current(url: str | URL | None = None) -> str | None:
    """The schema revision, or None when nothing is installed."""
    url = database_url(url)
    engine = migration_engine(url)
    try:
        with translated(url, dialect=engine.dialect) as call, engine.connect() as connection:
            call.connected = True
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def _run(action, config: Config, revision: str) -> None:
    url = config.attributes["url"]
    current(url)  # connects first: a server that cannot be reached is told apart from one lost mid-migration
    with translated(url, call=Call(connected=True, action=f"migrating to {revision}")):
        action(config, revision)
