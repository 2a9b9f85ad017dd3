"""The local stack is private to the user who started it: other local users get nothing.

The other user is `nobody`, driven with runuser and the mariadb client: this needs root,
which is also the case that matters most (a stack started by root must not hand out root).
"""

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pymysql
import pytest

from fibtrigger.cli import main
from fibtrigger.local import servers as local_stack

pytestmark = pytest.mark.mysql

OTHER_USER = "nobody"


def as_other_user(*args: str) -> subprocess.CompletedProcess:
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("acting as another OS user needs root and runuser")
    return subprocess.run(["runuser", "-u", OTHER_USER, "--", *args], capture_output=True, text=True, timeout=30)


def test_the_password_is_generated_private_and_in_the_printed_url_only(private_server):
    directory = Path(private_server.state_dir)
    password = (directory / "password").read_text().strip()
    assert len(password) >= 32 and password == private_server.password
    for private in ("password", "client.cnf"):
        assert stat.S_IMODE((directory / private).stat().st_mode) == 0o600
    assert password not in (directory / "stack.json").read_text()
    assert f"root:{password}@127.0.0.1:{private_server.db_port}/fibtrigger'" in private_server.exports()
    assert password not in private_server.masked_url and "root:***@" in private_server.masked_url


def test_status_masks_the_password(private_server, capsys):
    main(["local", "status", "--state-dir", private_server.state_dir])
    out, err = capsys.readouterr()
    assert private_server.password not in out + err
    assert f"root:***@127.0.0.1:{private_server.db_port}/fibtrigger" in out


def test_root_needs_the_password_even_on_loopback(private_server):
    for password in ("", "wrong"):
        with pytest.raises(pymysql.err.OperationalError) as refused:
            pymysql.connect(host="127.0.0.1", port=private_server.db_port, user="root", password=password,
                            connect_timeout=5)
        assert refused.value.args[0] == 1045


def test_another_user_cannot_log_in_or_reach_the_socket_or_the_password(private_server):
    tcp = as_other_user(shutil.which("mariadb"), "-h", "127.0.0.1", "-P", str(private_server.db_port), "-u", "root",
                        "-e", "SELECT 1")
    assert tcp.returncode != 0 and "ERROR 1045" in tcp.stderr, tcp.stderr
    unix = as_other_user(shutil.which("mariadb"), "-S", private_server.socket, "-u", "root", "-e", "SELECT 1")
    assert unix.returncode != 0 and "ERROR 2002" in unix.stderr, unix.stderr
    read = as_other_user("cat", str(Path(private_server.state_dir) / "password"))
    assert read.returncode != 0 and "Permission denied" in read.stderr


def test_files_cannot_be_written_or_read_outside_the_private_directory(private_server, tmp_path):
    target = tmp_path / "owned"
    connection = local_stack.admin_connection(private_server)
    try:
        cursor = connection.cursor()
        with pytest.raises(pymysql.err.MySQLError) as refused:
            cursor.execute(f"SELECT 'chosen bytes' INTO DUMPFILE '{target}'")
        assert refused.value.args[0] == 1290  # --secure-file-priv
        cursor.execute("SELECT LOAD_FILE('/etc/passwd'), @@secure_file_priv, @@bind_address")
        content, secure_dir, bind = cursor.fetchone()
    finally:
        connection.close()
    assert not target.exists() and content is None
    assert Path(secure_dir) == Path(private_server.state_dir) / "mariadb" / "files"
    assert stat.S_IMODE(Path(secure_dir).stat().st_mode) == 0o700
    assert bind == "127.0.0.1"


def test_mariadbd_started_by_root_runs_unprivileged(private_server):
    status = Path(f"/proc/{private_server.mariadbd_pid}/status").read_text()
    real, effective = (int(uid) for uid in re.search(r"Uid:\s+(\d+)\s+(\d+)", status).groups())
    if os.geteuid() == 0:
        assert real != 0 and effective != 0
    else:
        assert effective == os.geteuid()
    mariadb_dir = Path(private_server.state_dir) / "mariadb"
    assert mariadb_dir.stat().st_uid == effective and stat.S_IMODE(mariadb_dir.stat().st_mode) == 0o700
    assert Path(private_server.socket).parent.stat().st_uid == effective
    assert stat.S_IMODE(Path(private_server.socket).parent.stat().st_mode) == 0o700
    assert json.loads((Path(private_server.state_dir) / "stack.json").read_text())["socket"] == private_server.socket


def test_a_state_dir_others_cannot_traverse_is_one_clear_error(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root hands mariadbd to another account")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(local_stack.LocalStackError, match=r"cannot enter .*closed.* \(mode 0700\)"):
        local_stack.up(closed / "state", db_port=0, lambda_port=0, lambda_service=False)
