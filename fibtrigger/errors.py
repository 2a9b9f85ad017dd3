"""One exception hierarchy, rooted in FibtriggerError.

The CLI maps these to exit codes (fibtrigger.cli.EXIT_CODES); the library attaches none.

    FibtriggerError
    ├── InvalidArgument (ValueError)        the argument is not an integer in range
    │   └── ResultOutOfRange                an integer whose F(n) does not fit the column
    ├── ConfigurationError                  a setting is missing or wrong (URL, backend, credentials)
    │   ├── PermissionDenied                the account lacks a privilege (see `fibtrigger grants`)
    │   ├── AccessDenied                    the server refused the account (user, password, host)
    │   ├── DatabaseNotFound                the URL's database does not exist
    │   ├── TableShadowed                   a TEMPORARY TABLE fibonacci hides the real one
    │   └── AwsCredentialsMissing (AwsError)
    ├── SchemaNotInstalled                  the table, fibcomp or a trigger is missing
    ├── LambdaSyncUnavailable               the server has no lambda_sync
    ├── DatabaseUnreachable (ConnectionError)
    │   └── ConnectionLost                  died before COMMIT was sent: nothing stored, safe to retry
    ├── OutcomeUnknown                      died during INSERT or COMMIT: the row may be stored
    ├── StatementAborted                    the server stopped the INSERT: nothing stored
    │   ├── StatementTimeout                max_statement_time / max_execution_time
    │   │   └── LockWaitTimeout             innodb_lock_wait_timeout
    │   └── Deadlock
    ├── BackendError                        the computation behind the trigger failed
    ├── ResultPending                       the queue backend stored the rows; no worker computed them in time
    ├── ResultMismatch                      the rows read back differ from the arguments
    ├── KeyExhausted                        the hidden id (AUTO_INCREMENT) has no values left
    ├── DuplicateKey                        the hidden id was already taken: nothing stored
    ├── ConstraintViolated                  the row breaks the table's CHECK constraint: nothing stored
    ├── LocalStackError                     `fibtrigger local up|down` failed
    ├── FunctionNotFound                    no Lambda function by that name or ARN
    ├── InvocationDenied                    the endpoint refused the caller's signature
    ├── EndpointUnreachable (ConnectionError)
    └── AwsError                            an AWS call failed (deploy, plan, destroy)
        ├── AwsAccessDenied
        ├── AwsOperationUnsupported
        ├── AwsEndpointFault
        ├── ClusterNotFound
        ├── ResourceNotOwned
        └── UnsupportedCluster
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fibtrigger.lambda_function.contract import ArgumentError


class FibtriggerError(Exception):
    """Base class of every error fibtrigger raises on purpose."""


class InvalidArgument(FibtriggerError, ValueError):
    """The argument is not an integer in the valid range."""


class ResultOutOfRange(InvalidArgument):
    """The argument is an integer, but its Fibonacci number does not fit the column."""


class SchemaNotInstalled(FibtriggerError):
    """The fibonacci table, fibcomp or a trigger is missing."""


class DatabaseUnreachable(FibtriggerError, ConnectionError):
    """The database server could not be reached."""


class BackendError(FibtriggerError):
    """The computation behind the trigger failed (for example the Lambda function)."""


class ResultPending(FibtriggerError):
    """compute() on the queue backend waited its timeout: the rows are stored (``row_ids``) and a
    worker will compute them. Not a BackendError: nothing failed, and inserting again would store
    the rows twice."""

    def __init__(self, message: str, row_ids: list[int] | tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.row_ids = tuple(row_ids)


class ConfigurationError(FibtriggerError):
    """A setting is missing or wrong (URL, backend, credentials)."""


class ResultMismatch(FibtriggerError):
    """The rows read back do not match the arguments inserted; nothing is returned."""


class LambdaSyncUnavailable(FibtriggerError):
    """The server has no lambda_sync: neither Aurora MySQL nor the local UDF (`fibtrigger local up`)."""


class LocalStackError(FibtriggerError):
    """`fibtrigger local up` could not start (or `down` could not stop) mariadbd or the Lambda service."""


class AwsError(FibtriggerError):
    """An AWS call failed (deploy, plan or destroy)."""


class AwsCredentialsMissing(AwsError, ConfigurationError):
    """boto3's credential chain found no credentials."""


class AwsAccessDenied(AwsError):
    """AWS refused an action; the message names the action, e.g. iam:CreateRole."""


class ClusterNotFound(AwsError):
    """The Aurora cluster named by --cluster does not exist (in this region and account)."""


class ResourceNotOwned(AwsError):
    """A resource with fibtrigger's name exists but lacks its tags: fibtrigger leaves it alone."""


class AwsOperationUnsupported(AwsError):
    """The endpoint (an emulator such as moto) does not implement an AWS operation."""


class AwsEndpointFault(AwsError):
    """The endpoint failed on its side: a 5xx answer, or one that is not an AWS response at all."""


class UnsupportedCluster(AwsError):
    """The cluster is not Aurora MySQL 3 (aurora-mysql 8.0), which the Lambda trigger needs."""


class FunctionNotFound(FibtriggerError):
    """The Lambda endpoint has no function by that name or ARN (ResourceNotFoundException)."""


class InvocationDenied(FibtriggerError):
    """The endpoint refused the caller's credentials or signature (HTTP 403, AccessDenied)."""


class EndpointUnreachable(FibtriggerError, ConnectionError):
    """An HTTP endpoint (an API Gateway URL, a Lambda endpoint) could not be reached."""


# ---- Faults and privileges: what a caller may retry ------------------------------


class OutcomeUnknown(FibtriggerError):
    """The connection died while an INSERT or its COMMIT was in flight: the rows may or may not be stored.

    fibtrigger never retries such an INSERT. This is deliberately not a
    DatabaseUnreachable, so that code which retries when the database is
    unreachable does not repeat an insert that may have happened.
    """


class ConnectionLost(DatabaseUnreachable):
    """The connection died inside a transaction before its COMMIT was sent: nothing was stored."""


class StatementAborted(FibtriggerError):
    """The server stopped the INSERT (KILL QUERY, lock wait timeout, deadlock): nothing was stored."""


class StatementTimeout(StatementAborted):
    """max_statement_time (MariaDB) or max_execution_time (MySQL) stopped the INSERT: nothing was stored."""


class LockWaitTimeout(StatementTimeout):
    """The statement waited longer than the lock wait timeout for another session's lock: nothing was stored."""


class Deadlock(StatementAborted):
    """The server chose this statement as a deadlock victim and rolled it back: nothing was stored."""


class TableShadowed(ConfigurationError):
    """A session-local TEMPORARY TABLE fibonacci hides the real table: its values would not be computed."""


class PermissionDenied(ConfigurationError):
    """The database account lacks a privilege; `fibtrigger grants` prints what each role needs."""


class AccessDenied(ConfigurationError):
    """The server refused the account: wrong user name or password, or no login from this host."""


class DatabaseNotFound(ConfigurationError):
    """The URL names a database (schema) that does not exist on the server."""


class KeyExhausted(FibtriggerError):
    """The hidden id (AUTO_INCREMENT) has no values left: every insert fails; `fibtrigger doctor` says how to repair."""


class DuplicateKey(FibtriggerError):
    """An insert's hidden id was already taken (an id written explicitly ahead of the counter): nothing was stored."""


class ConstraintViolated(FibtriggerError):
    """The row breaks the table's CHECK constraint (a value NULL exactly while the row waits on the
    queue backend), for example a hand-written UPDATE of the bookkeeping columns: nothing was stored.
    Not StatementAborted: repeating the statement fails the same way."""


def invalid_argument(message: str, *, out_of_range: bool) -> InvalidArgument:
    """InvalidArgument, or ResultOutOfRange for an integer whose F(n) is out of range."""
    return (ResultOutOfRange if out_of_range else InvalidArgument)(message)


def argument_error(error: ArgumentError) -> InvalidArgument:
    """The typed error for the Lambda contract's ArgumentError (the shared argument check)."""
    return invalid_argument(str(error), out_of_range=error.out_of_range)
