"""The queue backend's default tunables, in a module of their own: the CLI shows them in its
help without loading SQLAlchemy (fibtrigger.queue) or the worker (fibtrigger.aws.worker)."""

DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_BACKOFF_CAP_SECONDS = 300.0
DEFAULT_POLL_SECONDS = 0.02
