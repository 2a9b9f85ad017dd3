"""Fixtures for the Lambda path: a private mariadbd with the local lambda_sync, and the peer it posts to.

Imported by the test modules that need them (module scope: each module gets
its own server, in a temporary directory, stopped at the end).
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fibtrigger.local import servers as local_stack
from lambda_peer import LambdaPeer

UDF_TIMEOUT_MS = 3000


def require_local_tools() -> None:
    """Skip without mariadbd or a C toolchain; under CI=true fail instead (CI must run these tests)."""
    missing = [
        tool for tool in ("mariadbd", "mariadb-install-db", "gcc", "mariadb_config")
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin") is None
    ]
    if missing:
        reason = f"the local Lambda path needs {', '.join(missing)} (see .ci/run)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def stack_base(name: str) -> Path:
    """A new directory for a state directory. Run as root, mariadbd runs as an unprivileged account
    that must pass through every parent: pytest's own tmp directory (mode 0700) would not let it."""
    base = Path(tempfile.mkdtemp(prefix=f"fibtrigger-{name}-"))
    base.chmod(0o711)
    return base


@pytest.fixture(scope="module")
def peer():
    lambda_peer = LambdaPeer().start()
    yield lambda_peer
    lambda_peer.stop()


@pytest.fixture(scope="module")
def private_server(peer):
    """A private mariadbd whose lambda_sync posts to ``peer``; no Lambda service."""
    require_local_tools()
    base = stack_base("private-mariadbd")
    directory = base / "state"
    stack = local_stack.up(
        directory, db_port=0, lambda_port=peer.port, lambda_timeout_ms=UDF_TIMEOUT_MS, lambda_service=False
    )
    yield stack
    local_stack.down(directory)
    assert_no_crash(directory)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def lambda_stack():
    """`fibtrigger local up` for real: a private mariadbd and the local Lambda service, on free ports."""
    require_local_tools()
    base = stack_base("local-stack")
    directory = base / "state"
    stack = local_stack.up(directory, db_port=0, lambda_port=0, lambda_timeout_ms=UDF_TIMEOUT_MS)
    yield stack
    local_stack.down(directory)
    assert_no_crash(directory)
    shutil.rmtree(base, ignore_errors=True)


def assert_no_crash(directory) -> None:
    """mariadbd logs "got signal N" when the loaded UDF (or anything else) crashes it."""
    log = (directory / "mariadb" / "error.log").read_text(errors="replace")
    assert "got signal" not in log and "Shutdown complete" in log, log[-2000:]


def invocations(stack) -> int:
    return local_stack.lambda_metrics(stack)["invocations"]
