"""Alembic environment: the URL comes from fibtrigger, never from alembic.ini.

Which database: ``alembic -x url=URL ...``, else the URL fibtrigger.migrate
passes, else FIBTRIGGER_DATABASE_URL, else ./fibtrigger.db. ``--sql`` (offline)
writes a script for the URL's dialect without connecting.
"""

from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError

import fibtrigger.schema.operations as object_operations  # registers op.create_object & co., and their autogenerate
from fibtrigger.config import database_url
from fibtrigger.database import translated, with_driver
from fibtrigger.errors import ConfigurationError, FibtriggerError
from fibtrigger.migrate import migration_engine

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

x_arguments = context.get_x_argument(as_dictionary=True)
if x_arguments.keys() - {"url"}:
    # A mistyped key (-x uri=...) would otherwise migrate ./fibtrigger.db without a word.
    raise CommandError(f"unknown -x {', '.join(sorted(x_arguments.keys() - {'url'}))}: only -x url=URL is read")
x_url = x_arguments.get("url")
try:
    given = {"source": "-x url"} if x_url else {}
    url = with_driver(database_url(x_url or config.attributes.get("url"), **given))
except ConfigurationError as error:
    # Alembic prints a CommandError as one FAILED line, without a traceback.
    raise CommandError(str(error)) from None
target_metadata = object_operations.target_metadata(url.get_backend_name())

options = dict(target_metadata=target_metadata, include_object=object_operations.include_object)

if context.is_offline_mode():
    output_buffer = config.attributes.get("output_buffer")
    if output_buffer is not None:
        options["output_buffer"] = output_buffer
    # Named paramstyle: a literal % stays one % in the script (the stock template does the same).
    context.configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **options)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    # fibtrigger.migrate.install_once: a connection that already holds SQLite's write lock.
    context.configure(connection=config.attributes["connection"], **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = migration_engine(url)
    try:
        with translated(url, dialect=engine.dialect):
            connection = engine.connect()
    except FibtriggerError as error:
        if "url" in config.attributes:  # fibtrigger.migrate: it keeps the typed error
            raise
        raise CommandError(str(error)) from None  # the alembic CLI: one FAILED line, not a traceback
    with connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
