"""`fibtrigger lambda package|serve` and `fibtrigger invoke`: the serverless commands (serve in serve_command)."""


import click

from ..aws import invoke as client
from .app import SHORT_HELP, LazyGroup


# serve loads the local service (http.server and more) only when it runs or shows its help.
@click.group(
    name="lambda",
    cls=LazyGroup,
    lazy_subcommands={"serve": "fibtrigger.cli.serve_command:serve"},
    short_help=SHORT_HELP["lambda"],
)
def lambda_group() -> None:
    """The Fibonacci Lambda function: build its package, or serve it locally."""


@lambda_group.command()
@click.option(
    "-o", "--output", default="function.zip", show_default=True, type=click.Path(dir_okay=False),
    help="Where to write the deployment zip.",
)
def package(output: str) -> None:
    """Build the deployment zip (only lambda_handler/, byte-identical for the same source)."""
    from ..aws import package as lambda_package

    built = lambda_package.write(output)
    click.echo(f"{output}: {built.size} bytes, sha256 {built.sha256}")


@click.command(context_settings={"ignore_unknown_options": True}, short_help=SHORT_HELP["invoke"])
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
