"""`fibtrigger lambda package|serve` and `fibtrigger invoke`: the serverless commands."""

import json
import sys

import click

from ..aws import invoke as client
from ..aws import package as lambda_package
from ..local.service import (
    DEFAULT_FUNCTION_NAMES,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_STAGE,
    INVOKE_PATH_TEMPLATE,
    METRICS_PATH,
    LocalLambdaService,
)
from .app import cli


@cli.group(name="lambda")
def lambda_group() -> None:
    """The Fibonacci Lambda function: build its package, or serve it locally."""


@lambda_group.command()
@click.option(
    "-o", "--output", default="function.zip", show_default=True, type=click.Path(dir_okay=False),
    help="Where to write the deployment zip.",
)
def package(output: str) -> None:
    """Build the deployment zip (only lambda_handler/, byte-identical for the same source)."""
    built = lambda_package.write(output)
    click.echo(f"{output}: {built.size} bytes, sha256 {built.sha256}")


@lambda_group.command()
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


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("n", metavar="N")
@click.option("--url", metavar="URL", help="An API Gateway invoke URL: POST, signed with SigV4 (execute-api).")
@click.option(
    "--function",
    "function",
    metavar="NAME_OR_ARN",
    help=f"Invoke the function directly through boto3 (default: {client.DEFAULT_FUNCTION}).",
)
def invoke(n: str, url: str | None, function: str | None) -> None:
    """Compute F(N) with the Lambda function and print the value.

    Credentials and region come from the standard boto3 chain; AWS_ENDPOINT_URL_LAMBDA points
    --function at a local service (fibtrigger lambda serve).
    """
    if url and function:
        raise click.UsageError("pass --url or --function, not both")
    argument = client.parse_argument(n)
    if url:
        value = client.invoke_url(url, argument)
    else:
        value = client.invoke_function(client.DEFAULT_FUNCTION if function is None else function, argument)
    click.echo(value)
