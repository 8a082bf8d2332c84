"""The content-addressed cache of generated modules.

Generated source is written to ``<cache dir>/<function>_<sha256 prefix>.py``.
numba can only cache functions that live in real files, and its cache is
keyed on the file's path and timestamp, so a file is written once, atomically
(a temporary file in the same directory, then ``os.replace``), and never
touched again: a second process asking for the same derivative finds the same
file and numba loads the machine code from ``__pycache__`` beside it.

The directory is ``$DCOMPILE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/dcompile``
(``~/.cache/dcompile``), created readable by the user only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

ENV_VAR = "DCOMPILE_CACHE_DIR"


def cache_dir() -> Path:
    """The cache directory, created (mode 0700) if missing."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "dcompile"
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def write_module(function: str, source: str, directory: Path | None = None) -> Path:
    """The path of a file holding exactly ``source``, written if needed.

    Safe under concurrent writers: each writes its own temporary file and the
    rename is atomic, so a reader never sees a partial module; an existing file
    with the right content is left alone so numba's cache stays valid.
    """
    directory = directory or cache_dir()
    path = directory / f"{function}_{source_digest(source)[:20]}.py"
    try:
        if path.read_text(encoding="utf-8") == source:
            return path
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{function}_", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
