"""Build and install the local lambda_sync loadable function (udf/lambda_sync.c).

The library's file name carries a hash of its source and build command: a
changed source gets a new file, so a library that a running server has loaded
is never overwritten in place (that crashes the server). The file is written
under a temporary name and renamed, so a server never sees half of it.
"""

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..bundled import bundled_dir
from ..errors import ConfigurationError

FUNCTION_NAME = "lambda_sync"
BUILD_PACKAGES = "gcc, libmariadb-dev (mariadb_config, mysql.h) and libcurl4-openssl-dev"
_LIBRARY_NAME = re.compile(r"lambda_sync-[0-9a-f]{16}\.so")


def source_path() -> Path:
    """udf/lambda_sync.c in the checkout, or its copy inside the installed package."""
    return bundled_dir("udf") / "lambda_sync.c"


def _compiler_command(source: Path, output: Path) -> list[str]:
    compiler = shutil.which(os.environ.get("CC", "gcc"))
    config = shutil.which("mariadb_config") or shutil.which("mysql_config")
    if compiler is None or config is None:
        raise ConfigurationError(f"building the local lambda_sync needs {BUILD_PACKAGES} (Debian package names)")
    cflags = subprocess.run([config, "--cflags"], capture_output=True, text=True, check=True).stdout.split()
    # No libmariadb: mariadbd itself provides my_printf_error and the THD API.
    return [compiler, "-shared", "-fPIC", "-O2", "-Wall", *cflags, "-o", str(output), str(source), "-lcurl"]


def build(plugin_dir: str | Path) -> Path:
    """Compile the UDF into ``plugin_dir`` unless an identical build is there; return its path."""
    source = source_path()
    if not source.is_file():
        raise ConfigurationError(f"{source} is missing: the local lambda_sync builds from a fibtrigger checkout")
    plugin_dir = Path(plugin_dir)
    plugin_dir.mkdir(parents=True, exist_ok=True)
    probe = _compiler_command(source, Path("OUT"))
    digest = hashlib.sha256(source.read_bytes() + "\0".join(probe).encode()).hexdigest()[:16]
    library = plugin_dir / f"lambda_sync-{digest}.so"
    if library.is_file():
        return library
    partial = plugin_dir / f".{library.name}.{os.getpid()}.partial"
    done = subprocess.run(_compiler_command(source, partial), capture_output=True, text=True)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        first_error = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
        raise ConfigurationError(
            f"building {source.name} failed ({first_error[:300]}); it needs {BUILD_PACKAGES}"
        )
    os.replace(partial, library)
    return library


def install(cursor, library: Path) -> bool:
    """Register ``library`` as lambda_sync on the server of ``cursor``; False when it already was.

    The library must be in the server's --plugin-dir. Only for a private server
    (`fibtrigger local up`): never install it into a shared one.
    """
    if not _LIBRARY_NAME.fullmatch(library.name):
        raise ConfigurationError(f"{library.name} is not a lambda_sync build")
    from ..schema import mysql  # with SQLAlchemy: loaded by the commands that install, not by `local --help`

    cursor.execute(mysql.SELECT_UDF_LIBRARY)
    row = cursor.fetchone()
    if row is not None and row[0] == library.name:
        return False
    if row is not None:
        cursor.execute(mysql.DROP_UDF)
    cursor.execute(mysql.CREATE_UDF.format(library=library.name))
    return True
