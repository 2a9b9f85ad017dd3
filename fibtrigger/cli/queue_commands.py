"""`fibtrigger worker` and `fibtrigger queue status|retry`: the queue backend's commands."""

import json
import time

import click

from .. import queue_defaults as defaults
from .app import SHORT_HELP, database_url_option, json_option
from .core import database_url_of


def _log(line: str) -> None:
    click.echo(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}", err=True)


@click.command(short_help=SHORT_HELP["worker"])
@click.option("--batch-size", type=int, default=defaults.DEFAULT_BATCH_SIZE, show_default=True,
              help="Rows per claim, and per call of the function.")
@click.option("--once", is_flag=True, help="Drain every row waiting at start (done or failed), then exit.")
@click.option("--max-attempts", type=int, default=defaults.DEFAULT_MAX_ATTEMPTS, show_default=True,
              help="Calls a row gets before it becomes failed.")
@click.option("--lease-seconds", type=float, default=defaults.DEFAULT_LEASE_SECONDS, show_default=True,
              help="How long a claim lasts; a dead worker's rows are claimable again after it.")
@click.option("--function-arn", metavar="ARN", help="The function to call (default: the one `backend queue` recorded).")
@click.option("--poll-seconds", type=float, default=defaults.DEFAULT_POLL_SECONDS, show_default=True,
              help="How often an idle worker looks for due rows.")
@click.option("--backoff-seconds", type=float, default=defaults.DEFAULT_BACKOFF_SECONDS, show_default=True,
              help="First retry delay after a failed call; doubles per attempt, with jitter.")
@database_url_option
@click.pass_context
def worker(ctx: click.Context, database_url: str | None, **options) -> None:
    """Compute waiting rows of the queue backend: claim a batch, call the Lambda function once,
    write the values back. One log line per batch on stderr. Stops cleanly on SIGTERM/SIGINT.

    The function is invoked through boto3: AWS_ENDPOINT_URL_LAMBDA points it at a local service.
    """
    from ..aws.worker import WorkerSettings, run_worker

    report = run_worker(database_url_of(ctx), WorkerSettings(**options), log=_log)
    _log(
        f"stopped: {report.batches} batches, {report.rows} rows, {report.written} written, "
        f"{report.errors} errors, {report.stale} stale"
    )


@click.group(short_help=SHORT_HELP["queue"])
def queue() -> None:
    """The queue backend's rows: what waits, what failed, and re-driving them."""


@queue.command()
@json_option
@database_url_option
@click.pass_context
def status(ctx: click.Context, as_json: bool, database_url: str | None) -> None:
    """Pending, in-flight and failed rows, rows done in the last hour, the oldest waiting row's age, the last errors."""
    from .. import queue as queue_rows

    found = queue_rows.status(database_url_of(ctx))
    if as_json:
        click.echo(json.dumps(found.as_dict(), separators=(",", ":")))
        return
    age = "-" if found.oldest_pending_seconds is None else f"{found.oldest_pending_seconds:.1f} s"
    click.echo(f"pending          {found.pending}")
    click.echo(f"in flight        {found.in_flight}")
    click.echo(f"failed           {found.failed}")
    click.echo(f"done last hour   {found.done_last_hour}")
    click.echo(f"oldest waiting   {age}")
    for error in found.last_errors:
        click.echo(f"error: row {error.id} (fib {error.fib}, {error.state}, {error.attempts} attempts): {error.error}")


@queue.command()
@click.option("--failed", is_flag=True, help="Also re-queue failed rows, with fresh attempts.")
@database_url_option
@click.pass_context
def retry(ctx: click.Context, failed: bool, database_url: str | None) -> None:
    """Make rows waiting out a backoff due now; with --failed, re-drive failed rows too."""
    from .. import queue as queue_rows

    changed = queue_rows.retry(database_url_of(ctx), failed=failed)
    click.echo(f"{changed} rows due now")
