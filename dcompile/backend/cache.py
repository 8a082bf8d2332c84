"""The content-addressed cache of generated modules.

Generated source is written to ``<cache dir>/<function>_<sha256 prefix>.py``.
numba can only cache functions that live in real files, and its cache is
keyed on the file's path and timestamp, so a file is written once, atomically
(a temporary file in the same directory, then ``os.replace``), and never
touched again: a second process asking for the same derivative finds the same
file and numba loads the machine code from ``__pycache__`` beside it.

The directory is ``$DCOMPILE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/dcompile``
(``~/.cache/dcompile``), created readable by the user only; a directory that
other users can write to (or that another user owns) is refused, since numba
loads machine code from it.

Faults (see tests/test_cache_faults.py): a module is imported from the text
whose hash names its file, checked when it is read (:class:`VerifiedLoader`;
no ``.pyc`` is read or written), so a truncated or hand-edited file is never
run as it is: :func:`write_module` rewrites it, and a file changed between the
two raises :class:`CacheError`. numba's own files that it cannot read are
removed and the function compiled again (:func:`drop_numba_cache`, called by
the compiler). A cache that cannot be written (read-only, disk full) raises
:class:`CacheError`, which names the directory and the fix.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from dcompile.errors import DcompileError

ENV_VAR = "DCOMPILE_CACHE_DIR"
FIX = f"Fix: run `dcompile cache clear`, or set ${ENV_VAR} to a private directory you can write to."


class CacheError(DcompileError, OSError):
    """The disk cache cannot be used: not writable, full, unsafe, or changed while in use."""


def cache_error(problem: str, directory: Path, exc: BaseException | None = None) -> CacheError:
    """An error naming the cache directory, what went wrong and the fix."""
    detail = f" ({exc.strerror or exc})" if isinstance(exc, OSError) else ""
    err = CacheError(f"dcompile's cache directory {directory}: {problem}{detail}.\n{FIX}")
    if isinstance(exc, OSError):
        err.errno = exc.errno
    return err


def cache_dir() -> Path:
    """The cache directory, created (mode 0700) if missing; refused if others can write to it."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "dcompile"
    if not path.is_dir():
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise cache_error("cannot be created", path, exc) from None
    check_private(path)
    return path


def check_private(path: Path) -> None:
    """Refuse a directory another user owns or may write to: numba runs the machine code found there."""
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CacheError(
            f"dcompile's cache directory {path} belongs to another user (uid {st.st_uid}); dcompile runs "
            f"machine code from it, so it must be yours.\nFix: set ${ENV_VAR} to a directory of your own."
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheError(
            f"dcompile's cache directory {path} can be written by other users (mode "
            f"{stat.S_IMODE(st.st_mode):o}); dcompile runs machine code from it, so it must be private.\n"
            f"Fix: chmod 700 {path}, or set ${ENV_VAR} to a private directory."
        )


DIGEST_CHARS = 20  # hex digits of the SHA-256 in a module's name


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def write_module(function: str, source: str, directory: Path | None = None) -> Path:
    """The path of a file holding exactly ``source``, written if needed.

    Safe under concurrent writers: each writes its own temporary file and the
    rename is atomic, so a reader never sees a partial module; an existing file
    with the right content is left alone so numba's cache stays valid.
    """
    directory = directory or cache_dir()
    path = directory / f"{function}_{source_digest(source)[:DIGEST_CHARS]}.py"
    try:
        if path.read_text(encoding="utf-8") == source:
            return path
    except (OSError, UnicodeDecodeError):  # missing, unreadable, not text: written afresh
        pass
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{function}_", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, path, source)
    except OSError as exc:
        raise cache_error(f"cannot write {path.name}", directory, exc) from exc
    finally:
        _remove(tmp)
    return path


def _publish(tmp: str, path: Path, source: str) -> None:
    """Move the written file into place, keeping a good file a concurrent writer put there first.

    A hard link creates ``path`` only if it does not exist: replacing a file another
    process has just written would change its timestamp after that process's numba
    saved machine code keyed on it, and every later process would compile again.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        try:
            if path.read_text(encoding="utf-8") == source:
                return
        except (OSError, UnicodeDecodeError):
            pass
        os.replace(tmp, path)  # damaged: replaced atomically
    except OSError:  # a file system without hard links
        os.replace(tmp, path)


def _remove(tmp: str | None) -> None:
    if tmp is not None and os.path.exists(tmp):
        os.unlink(tmp)


def verified_source(path: Path) -> str:
    """The text of a generated module, checked against the hash its name carries.

    ``<function>_<20 hex digits>.py``: the digits are the start of the SHA-256 of
    the text :func:`write_module` wrote. Anything else (truncated, corrupted,
    hand-edited since) raises :class:`CacheError` instead of being imported.
    """
    digest = path.stem.rsplit("_", 1)[-1]
    try:
        source = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise cache_error(f"cannot read {path.name}", path.parent, exc) from None
    if len(digest) != DIGEST_CHARS or source_digest(source)[:DIGEST_CHARS] != digest:
        raise cache_error(
            f"{path.name} does not hold the text its name's hash was made from (truncated, corrupted or "
            "edited since it was written); it is not imported",
            path.parent,
        )
    return source


class VerifiedLoader(importlib.machinery.SourceFileLoader):
    """Imports a generated module from its hash-checked text; never reads or writes a ``.pyc``."""

    def get_code(self, fullname: str) -> Any:
        return compile(verified_source(Path(self.path)), self.path, "exec", dont_inherit=True)


class VerifiedFinder:
    """A ``sys.meta_path`` finder: ``<package>.<module>`` from the package's directories, verified.

    numba's cache of an optimizer loop imports the kernels' modules by name in
    a new process; this makes that import check the hash too.
    """

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        parent, _, stem = fullname.rpartition(".")
        if parent != self.package or not path:
            return None
        for directory in path:
            candidate = os.path.join(directory, stem + ".py")
            if os.path.isfile(candidate):
                return importlib.util.spec_from_file_location(
                    fullname, candidate, loader=VerifiedLoader(fullname, candidate)
                )
        return None


def numba_cache_files(module: Path) -> list[Path]:
    """numba's index (``.nbi``) and machine-code (``.nbc``) files for the functions of ``module``."""
    pycache = module.parent / "__pycache__"
    return [p for pattern in ("*.nbi", "*.nbc") for p in pycache.glob(f"{module.stem}.{pattern}")]


def drop_numba_cache(module: Path) -> bool:
    """Remove numba's files for ``module`` (after numba failed on them); whether there were any."""
    files = numba_cache_files(module)
    for p in files:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise cache_error(f"cannot remove numba's unreadable file {p.name}", module.parent, exc) from None
    return bool(files)
