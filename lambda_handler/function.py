"""The handler: parse the event, compute, answer in the event's shape, log one line."""

import os
from time import perf_counter

from . import events, logs
from .contract import ArgumentError
from .fibonacci import fibonacci
from .settings import SettingError, max_fib


def handler(event, context):
    """The Lambda entry point, handler string ``lambda_handler.handler``."""
    return run(event, context, os.environ, logs.write_stdout)


def run(event, context, environ, log: logs.Sink):
    """``handler`` with an explicit environment and log sink (a host running it in-process passes its own)."""
    started = perf_counter()
    shape = events.kind(event)
    record = {"level": "INFO", "requestId": getattr(context, "aws_request_id", None), "event": shape, "fib": None}
    try:
        if shape == events.DIRECT:
            return _direct(event, environ, record)
        if shape == events.BATCH:
            return _batch(event, environ, record)
        return _http(event, shape, environ, record)
    finally:
        record["durationMs"] = round((perf_counter() - started) * 1000, 3)
        logs.emit(record, log)


def _direct(event, environ, record):
    # A bad argument raises: the runtime turns it into a function error
    # {"errorMessage", "errorType"}, which a database trigger can detect.
    try:
        n = events.fib_argument(event, max_fib(environ))
    except (ArgumentError, SettingError) as error:
        record.update(level="ERROR", outcome="error", errorType=type(error).__name__, message=str(error))
        raise
    value = fibonacci(n)
    record.update(fib=n, outcome="ok")
    return events.result(n, value)


def _batch(event, environ, record):
    # A malformed event is a function error, as for a direct call; a bad item is only that item's error.
    try:
        limit = max_fib(environ)
        items = events.batch_items(event)
    except (ArgumentError, SettingError) as error:
        record.update(level="ERROR", outcome="error", errorType=type(error).__name__, message=str(error))
        raise
    results = []
    for item in items:
        try:
            n = events.fib_value(item, limit)
        except ArgumentError as error:
            results.append(events.item_error(error))
            continue
        results.append(events.result(n, fibonacci(n)))
    failed = sum("errorType" in answer for answer in results)
    record.update(outcome="ok" if not failed else "partial", items=len(results), itemErrors=failed)
    return {"results": results}


def _http(event, shape, environ, record):
    try:
        limit = max_fib(environ)
    except SettingError as error:
        record.update(level="ERROR", outcome="error", status=500, errorType="SettingError", message=str(error))
        return events.http_response(500, {"message": str(error), "errorType": "SettingError"})
    try:
        n = events.http_fib(event, shape, limit)
    except events.HttpError as error:
        record.update(outcome="rejected", status=error.status, errorType=error.error_type, message=error.message)
        return events.http_error_response(error)
    value = fibonacci(n)
    record.update(fib=n, outcome="ok", status=200)
    return events.http_response(200, events.result(n, value))
