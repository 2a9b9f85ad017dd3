"""The Lambda deployment zip: only the handler package, byte-identical for the same source."""

import base64
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fibtrigger import lambda_function

from ..errors import ConfigurationError

PACKAGE_DIR = Path(lambda_function.__file__).resolve().parent
# Lambda needs no timestamps; a fixed one makes the zip reproducible.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
MAX_PACKAGE_BYTES = 16 * 1024


@dataclass(frozen=True)
class Package:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def code_sha256(self) -> str:
        """Lambda's CodeSha256: base64 of the raw digest, not the hex string."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def build() -> Package:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in source_files():
            name = f"lambda_handler/{path.relative_to(PACKAGE_DIR).as_posix()}"
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever the build machine; Windows would write 0
            archive.writestr(info, path.read_bytes())
    return Package(buffer.getvalue())


def write(path: str | Path) -> Package:
    """Build the zip into ``path``; ConfigurationError when it cannot be written there."""
    package = build()
    try:
        Path(path).write_bytes(package.data)
    except OSError as error:
        raise ConfigurationError(f"cannot write the package to {path}: {error.strerror or error}") from None
    return package
