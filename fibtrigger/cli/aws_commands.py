"""`fibtrigger aws plan | deploy | destroy`: thin wrappers over fibtrigger.aws."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ..aws.report import Report
from ..aws.stack import DEFAULT_MEMORY_MB, DEFAULT_RUNTIME, DEFAULT_TIMEOUT_SECONDS, StackSettings

if TYPE_CHECKING:
    from ..aws.deploy import Stack

# Seconds between retries come from fibtrigger.aws.clients; the CLI sleeps for real.
SLEEP = time.sleep


def stack_options(command: Callable) -> Callable:
    """The options every `aws` command shares: which stack, where."""
    options = [
        click.option("--name", default="fibtrigger", show_default=True,
                     help="Prefix of every resource's name; also the fibtrigger:stack tag."),
        click.option("--stage", default="test", show_default=True,
                     help="API Gateway stage; also part of every resource's name."),
        click.option("--cluster", metavar="AURORA_CLUSTER_ID",
                     help="Also give this Aurora MySQL 3 cluster access to the function."),
        click.option("--users-group", default="apiUsers", show_default=True,
                     help="IAM group of the API's callers (created if missing)."),
        click.option("--region", help="AWS region (default: the standard boto3 chain)."),
        click.option("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def function_options(command: Callable) -> Callable:
    """What plan and deploy need to shape the Lambda function."""
    options = [
        click.option("--memory", type=int, default=DEFAULT_MEMORY_MB, show_default=True,
                     help="Lambda memory in MB (128-10240)."),
        click.option("--timeout", type=int, default=DEFAULT_TIMEOUT_SECONDS,
                     show_default=True, help="Lambda timeout in seconds (1-900)."),
        click.option("--runtime", default=DEFAULT_RUNTIME, show_default=True,
                     help="Lambda Python runtime."),
        click.option("--alarm-topic", metavar="SNS_TOPIC_ARN",
                     help="Notify this SNS topic when an alarm fires (default: alarms without actions)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _stack(region: str | None, profile: str | None, **settings: Any) -> Stack:
    from ..aws.clients import AwsClients, session_for  # boto3 loads with the command that uses it
    from ..aws.deploy import Stack

    clients = AwsClients(session_for(profile, region), SLEEP)
    return Stack(clients, StackSettings(**settings))


def _changes(report: Report) -> None:
    for change in report.changes:
        click.echo(f"  {change.line()}")


@click.command()
@stack_options
@function_options
def plan(region: str | None, profile: str | None, **settings: object) -> None:
    """Print what deploy would create or change; touches nothing."""
    deployment = _stack(region, profile, **settings)
    report = deployment.plan()
    click.echo(f"Plan for {deployment.settings.prefix} in {report.region} (account {report.account}):")
    _changes(report)
    click.echo(
        f"Plan: {report.count('create')} to create, {report.count('update')} to update, "
        f"{report.count('keep')} unchanged."
    )


@click.command()
@stack_options
@function_options
def deploy(region: str | None, profile: str | None, **settings: object) -> None:
    """Create or update the stack, in order; running it twice changes nothing."""
    deployment = _stack(region, profile, **settings)
    report = deployment.deploy()
    click.echo(f"Deployed {deployment.settings.prefix} to {report.region} (account {report.account}):")
    _changes(report)
    click.echo(
        f"Deploy: {report.count('create')} created, {report.count('update')} updated, "
        f"{report.count('keep')} unchanged."
    )
    click.echo("")
    click.echo(f"Invoke URL:   {report.invoke_url}")
    click.echo(f"Function ARN: {report.function_arn}")
    if report.notes:
        click.echo("")
        click.echo(f"Aurora cluster {deployment.settings.cluster}: three steps remain")
        for number, note in enumerate(report.notes, 1):
            click.echo(f"  {number}. {note}")
    for advice in report.advice:
        click.echo("")
        click.echo(f"Note: {advice}")
    click.echo("")
    click.echo("Next, point the trigger at the function:")
    click.echo(f"  {report.next_command}")
    click.echo("")
    click.echo(f"Dashboard: {report.dashboard_url}")


@click.command()
@stack_options
def destroy(region: str | None, profile: str | None, **settings: object) -> None:
    """Delete what deploy created, in reverse order; leaves everything else alone."""
    deployment = _stack(region, profile, **settings)
    report = deployment.destroy()
    if not report.changes:
        click.echo(f"Nothing to destroy for {deployment.settings.prefix} in {report.region}.")
        return
    click.echo(f"Destroyed {deployment.settings.prefix} in {report.region} (account {report.account}):")
    _changes(report)
    click.echo(
        f"Destroy: {report.count('delete')} deleted, {report.count('update')} updated, "
        f"{report.count('skip')} left alone."
    )


@click.command()
@stack_options
@function_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the template here (default: stdout).")
def template(region: str | None, profile: str | None, output: str | None, **settings: object) -> None:
    """Write the stack as a CloudFormation template (YAML); touches no AWS account.

    The options become the parameters' defaults (--region and --profile are not used: the
    template is deployed where the pipeline deploys it). Its code comes from S3: upload the zip
    of `fibtrigger lambda package` and pass CodeBucket and CodeKey.
    """
    from ..aws import template as cloudformation

    stack_settings = StackSettings(**settings)  # type: ignore[arg-type]
    text = cloudformation.render(stack_settings)
    if output is None:
        click.echo(text, nl=False)
        return
    with open(output, "w", encoding="utf-8") as file:
        file.write(text)
    resources = len(cloudformation.build(stack_settings)["Resources"])
    click.echo(f"{output}: {resources} resources; deploy it with CodeBucket and CodeKey set", err=True)
