"""Alembic environment: the URL comes from fibtrigger, never from alembic.ini."""

from logging.config import fileConfig

from alembic import context

from fibtrigger.config import database_url
from fibtrigger.migrate import migration_engine

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name)

url = config.attributes.get("url") or database_url()

if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = migration_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
