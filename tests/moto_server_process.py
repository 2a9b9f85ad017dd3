"""A real `moto_server` process on a free port, reached through AWS_ENDPOINT_URL as users reach it.

In-process moto (mock_aws) answers unimplemented operations with a NotImplemented ClientError;
the server answers an HTML 500 page. Only the server shows what the CLI meets.
"""

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from installed_tools import installed_tool

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


def moto_server_command() -> list[str]:
    found = installed_tool("moto_server")
    if found is None:
        pytest.fail("moto_server is missing: install the test extra (moto[server])")
    return [found, "-H", "127.0.0.1", "-p", "0"]


def start() -> tuple[subprocess.Popen, str]:
    """Start moto_server on a port the OS picks; return it and its URL once it listens."""
    server = subprocess.Popen(
        moto_server_command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen = []
    for line in server.stderr:  # werkzeug names the bound port when it starts listening
        seen.append(line)
        match = _RUNNING.search(line)
        if match:
            # Keep draining its log so that a full pipe never blocks it.
            threading.Thread(target=server.stderr.read, daemon=True).start()
            return server, match.group(1)
    server.wait()
    pytest.fail(f"moto_server did not start: {''.join(seen)[-500:]}")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def environment(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any AWS_ setting, pointed at the server."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ENDPOINT_URL=url,
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        **extra,
    )
    return env
