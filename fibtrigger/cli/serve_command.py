"""`fibtrigger lambda serve`: the local Lambda service in the foreground."""

import json
import sys

import click

from ..local.service import (
    DEFAULT_FUNCTION_NAMES,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_STAGE,
    INVOKE_PATH_TEMPLATE,
    METRICS_PATH,
    LocalLambdaService,
)


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@click.option(
    "--require-iam",
    is_flag=True,
    help="The API endpoint demands a SigV4 signature (execute-api) by this process's AWS key pair.",
)
@click.option("--stage", default=DEFAULT_STAGE, show_default=True, help="The API endpoint is POST /STAGE/.")
@click.option(
    "--function-name",
    "function_names",
    multiple=True,
    metavar="NAME",
    help=f"A name the Invoke API answers to (repeatable; default: {', '.join(DEFAULT_FUNCTION_NAMES)}).",
)
@click.option("--quiet", is_flag=True, help="Do not print the function's log lines.")
def serve(host: str, port: int, require_iam: bool, stage: str, function_names: tuple[str, ...], quiet: bool) -> None:
    """Serve the function over HTTP: the Lambda Invoke API and an API-Gateway-style endpoint."""
    service = LocalLambdaService(
        host,
        port,
        require_iam=require_iam,
        stage=stage,
        function_names=function_names or DEFAULT_FUNCTION_NAMES,
        log_stream=None if quiet else sys.stdout,
    )

    def ready(running: LocalLambdaService) -> None:
        invoke_path = INVOKE_PATH_TEMPLATE.format(name="{" + ",".join(running.function_names) + "}")
        click.echo(f"local Lambda service on {running.url} (limit: fib <= {running.max_fib})")
        click.echo(f"  Invoke API: POST {running.url}{invoke_path}")
        click.echo(f"  API:        POST {running.api_url} (IAM: {'required' if require_iam else 'off'})")
        click.echo(f"  metrics:    GET  {running.url}{METRICS_PATH}")
        click.echo(f"  export AWS_ENDPOINT_URL_LAMBDA={running.url}")

    service.serve_forever(on_ready=ready)
    click.echo(f"stopped; metrics: {json.dumps(service.metrics(), separators=(',', ':'))}")
