"""The program cache: which generated module answers a derivative request (issue 7).

numba's disk cache stores machine code keyed on a generated module, but
finding that module means tracing the user's function, deriving and emitting
it, which for unrolled graphs of tens of thousands of operations takes longer
than numba's load (N = 2,000 chain: 1.7 s of front end before a 0.27 s load).
This cache maps a *request* to the module that answered it before:

    key = SHA-256(function fingerprint, name, argument names, signature, mode,
                  wrt, variant, dcompile's build)

and stores ``<cache dir>/programs/<key>.json`` with the module's file name,
its function and part names, and the argument types of the numba signature.
The function fingerprint (:mod:`dcompile.frontend.fingerprint`) covers the
function's code, closure, defaults and the globals it reads; the build covers
every source file of dcompile itself, the versions of NumPy, SymPy and numba,
and the settings that shape the emitted code (the split thresholds). A function
that reads something unfingerprintable has no key and is traced as before.

A record is only a pointer: the module it names is read through
:func:`~dcompile.backend.cache.verified_source` (its name carries the hash of
its text), so a damaged record or module is a miss, never wrong code. Set
``DCOMPILE_PROGRAM_CACHE=0`` to turn the cache off.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dcompile.backend.cache import CacheError, cache_dir, verified_source
from dcompile.emit.emitter import Emitted
from dcompile.ir.types import DType, VType

ENV_VAR = "DCOMPILE_PROGRAM_CACHE"
FORMAT = 2


def enabled() -> bool:
    """Whether the program cache is used (``DCOMPILE_PROGRAM_CACHE=0`` turns it off)."""
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


@functools.cache
def _build() -> str:
    """dcompile's own code and the versions of what shapes the emitted code."""
    from importlib.metadata import version

    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    # Versions from the installed metadata: importing SymPy only to read its version costs 0.4 s.
    h.update(" ".join([*(version(p) for p in ("numpy", "sympy", "numba", "llvmlite")), sys.version]).encode())
    return h.hexdigest()


def _settings() -> tuple[Any, ...]:
    from dcompile.emit import chunking, emitter

    return (chunking.THRESHOLD, chunking.PART_SIZE, chunking.HIGH, emitter.MAX_SPREAD)


def request_key(fingerprint: str, parts: tuple[Any, ...]) -> str:
    """The key of one request: the function's fingerprint and the request's ``parts`` (reprs)."""
    h = hashlib.sha256()
    for item in (FORMAT, _build(), _settings(), fingerprint, *parts):
        data = repr(item).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _directory(*, create: bool = False) -> Path:
    path = cache_dir() / "programs"
    if create:
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def _encode_type(t: VType | tuple[VType, ...]) -> list[Any]:
    if isinstance(t, tuple):  # the buffers of an into-variant writing several gradients
        return ["tuple", [_encode_type(x) for x in t]]
    return [list(t.shape), t.dtype.value]


def _decode_type(item: Any) -> VType | tuple[VType, ...]:
    if item[0] == "tuple":
        return tuple(_decode_type(x) for x in item[1])  # type: ignore[misc]
    shape, dtype = item
    return VType(tuple(int(n) for n in shape), DType(dtype))


def lookup(key: str) -> tuple[Emitted, list[VType | tuple[VType, ...]], Path] | None:
    """The generated module, signature types and module file recorded under ``key``, or None (a miss)."""
    try:
        record = json.loads((_directory() / f"{key}.json").read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            return None
        module = cache_dir() / record["module"]
        if module.parent != cache_dir() or module.suffix != ".py":
            return None
        source = verified_source(module)
        emitted = Emitted(
            source,
            str(record["function"]),
            tuple(str(p) for p in record["parts"]),
            tuple(str(p) for p in record["hot"]),
        )
        return emitted, [_decode_type(t) for t in record["types"]], module
    except (OSError, ValueError, KeyError, TypeError, CacheError):
        return None  # missing, damaged or stale: trace as without the cache


def store(key: str, module: Path, emitted: Emitted, types: Sequence[VType | tuple[VType, ...]]) -> None:
    """Record that ``module`` answers ``key`` (atomically; a failure to write only costs the next miss)."""
    record = {
        "format": FORMAT,
        "module": module.name,
        "function": emitted.function,
        "parts": list(emitted.parts),
        "hot": list(emitted.hot),
        "types": [_encode_type(t) for t in types],
    }
    tmp = None
    try:
        directory = _directory(create=True)
        fd, tmp = tempfile.mkstemp(prefix=".program_", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, directory / f"{key}.json")
        tmp = None
    except (OSError, CacheError):
        pass
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
