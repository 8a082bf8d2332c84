"""The disk cache under faults: each one recovers (compiles again) or raises a clear CacheError.

Truncated, corrupted and hand-edited generated modules; truncated and garbage
numba ``.nbi``/``.nbc`` files; an index written by another numba version; a
read-only or full cache; a directory other users can write to; two processes
compiling the same function at once. Never a crash, never a stale or wrong
result. (Threads compiling at once: tests/test_threads.py.)
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import dcompile as dc
from dcompile.backend import cache as cache_mod
from dcompile.backend.cache import ENV_VAR, CacheError, cache_dir, numba_cache_files, write_module
from dcompile.backend.compiler import load_module
from dcompile.errors import DcompileError


def poly(x, y):
    return np.sin(x) * y + x**3


EXPECTED = (np.sin(1.0) * 2.0 + 1.0, np.array([np.cos(1.0) * 2.0 + 3.0, np.sin(1.0)]))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh private cache directory for one test."""
    path = tmp_path / "cache"
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def value_and_grad(backend: str = "python"):
    """A new Function each time, so that each call loads the kernel from the cache again."""
    vg = dc.value_and_grad(dc.compile(poly, backend=backend))
    value, grad = vg(1.0, 2.0)
    return value, grad, vg.kernel


def check(value, grad) -> None:
    assert value == pytest.approx(EXPECTED[0], rel=1e-14)
    np.testing.assert_allclose(grad, EXPECTED[1], rtol=1e-14)


# -- generated modules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # truncated (a crash mid-write of a non-atomic tool)
        lambda text: "",  # emptied
        lambda text: text.replace("return", "return 2 *", 1),  # hand-edited: a stale, wrong result
        lambda text: text + "\nimport os  # injected\n",
    ],
    ids=["truncated", "empty", "edited", "appended"],
)
def test_a_damaged_module_is_rewritten_and_never_imported(cache, damage):
    *_, kernel = value_and_grad()
    text = kernel.path.read_text()
    kernel.path.write_text(damage(text))
    value, grad, again = value_and_grad()
    check(value, grad)
    assert again.path == kernel.path and again.path.read_text() == text


def test_binary_garbage_in_a_module_is_rewritten(cache):
    *_, kernel = value_and_grad()
    kernel.path.write_bytes(b"\xff\xfe\x00garbage")
    check(*value_and_grad()[:2])


def test_a_module_changed_after_the_check_is_refused(cache):
    """A file edited between writing and importing (a race) is not imported: the hash is checked at import."""
    path = write_module("g", "def g():\n    return 1.0\n", cache_dir())
    path.write_text("def g():\n    return 2.0\n")
    with pytest.raises(CacheError) as info:
        load_module(path)
    message = str(info.value)
    assert str(cache) in message and "dcompile cache clear" in message and ENV_VAR in message
    assert isinstance(info.value, DcompileError)


def test_no_bytecode_file_is_read_or_written(cache):
    """A .pyc matching the module's timestamp and size would be run instead of the source."""
    *_, kernel = value_and_grad()
    assert not list((cache / "__pycache__").glob("*.pyc")) if (cache / "__pycache__").exists() else True
    # plant a .pyc that returns a wrong value, with the source's stamp: it must be ignored
    import importlib.util
    import py_compile

    wrong = kernel.path.with_name("planted.py")
    wrong.write_text(kernel.path.read_text().replace("return", "return 2 *", 1))
    os.utime(wrong, ns=(kernel.path.stat().st_atime_ns, kernel.path.stat().st_mtime_ns))
    pyc = importlib.util.cache_from_source(str(kernel.path))
    py_compile.compile(str(wrong), cfile=pyc, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    wrong.unlink()
    check(*value_and_grad()[:2])


def test_the_module_package_import_checks_the_hash(cache):
    """numba's cache of an optimizer loop imports a kernel module by name in a new process."""
    path = write_module("byname", "def g():\n    return 1.0\n", cache_dir())
    load_module(path)
    name = f"dcompile_generated.{path.stem}"
    del sys.modules[name]
    path.write_text("def g():\n    return 2.0\n")
    with pytest.raises(CacheError):
        __import__(name)


# -- numba's files ---------------------------------------------------------------------------


def _damage_nbi_truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:30])


def _damage_nbi_version(p: Path) -> None:
    """An index written by another numba: numba keys its index on its version."""
    with open(p, "rb") as fh:
        pickle.load(fh)
        rest = fh.read()
    with open(p, "wb") as fh:
        pickle.dump("0.0.0-another-numba", fh, protocol=-1)
        fh.write(rest)


@pytest.mark.numba
@pytest.mark.parametrize(
    ("suffix", "damage"),
    [
        (".nbc", lambda p: p.write_bytes(p.read_bytes()[:100])),
        (".nbc", lambda p: p.write_bytes(b"garbage\n")),
        (".nbi", _damage_nbi_truncate),
        (".nbi", lambda p: p.write_bytes(b"garbage\n")),
        (".nbi", _damage_nbi_version),
    ],
    ids=["nbc-truncated", "nbc-garbage", "nbi-truncated", "nbi-garbage", "nbi-other-numba-version"],
)
def test_damaged_numba_files_are_compiled_again(cache, suffix, damage):
    *_, kernel = value_and_grad("numba")
    files = [p for p in numba_cache_files(kernel.path) if p.suffix == suffix]
    assert files
    for p in files:
        damage(p)
    value, grad, again = value_and_grad("numba")
    check(value, grad)
    assert not again.cache_hit  # compiled afresh, not loaded from the damaged files
    value, grad, third = value_and_grad("numba")
    check(value, grad)
    assert third.cache_hit  # and saved again


# -- a cache that cannot be written -----------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_an_unwritable_cache_raises_a_clear_error(cache, monkeypatch, code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(cache_mod.tempfile, "mkstemp", fail)
    with pytest.raises(CacheError) as info:
        value_and_grad()
    message = str(info.value)
    assert str(cache) in message and os.strerror(code) in message
    assert "dcompile cache clear" in message and ENV_VAR in message
    assert info.value.errno == code
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_mid_write_leaves_no_partial_file(cache, monkeypatch):
    real = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache_mod.os, "fsync", full)
    with pytest.raises(CacheError, match="No space left"):
        value_and_grad()
    assert list(cache.iterdir()) == []
    monkeypatch.setattr(cache_mod.os, "fsync", real)
    check(*value_and_grad()[:2])  # space again: it works


def test_a_read_only_cache_that_holds_the_module_still_works(cache, monkeypatch):
    value_and_grad()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(cache_mod.tempfile, "mkstemp", read_only)
    check(*value_and_grad()[:2])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permissions")
def test_a_really_read_only_directory(cache):  # pragma: no cover - CI does not run as root
    cache.mkdir(mode=0o500)
    try:
        with pytest.raises(CacheError, match=str(cache)):
            value_and_grad()
    finally:
        cache.chmod(0o700)


@pytest.mark.numba
def test_numba_failing_to_save_raises_a_clear_error(cache, monkeypatch):
    from numba.core import caching

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(caching.IndexDataCacheFile, "save", full)
    f = dc.compile(lambda x: np.cos(x) * x**2)
    with pytest.raises(CacheError) as info:
        f(0.5)
    assert str(cache) in str(info.value) and "No space left" in str(info.value)


# -- a private directory -----------------------------------------------------------------------


def test_the_cache_is_created_private(cache):
    assert stat.S_IMODE(cache_dir().stat().st_mode) == 0o700
    *_, kernel = value_and_grad()
    assert stat.S_IMODE(kernel.path.stat().st_mode) & 0o077 == 0  # modules readable by the user only


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_directory_others_can_write_is_refused(cache, mode):
    cache.mkdir()
    cache.chmod(mode)
    with pytest.raises(CacheError) as info:
        value_and_grad()
    assert str(cache) in str(info.value) and f"chmod 700 {cache}" in str(info.value)
    cache.chmod(0o700)
    check(*value_and_grad()[:2])


def test_a_directory_readable_by_others_is_accepted(cache):
    cache.mkdir()
    cache.chmod(0o755)
    check(*value_and_grad()[:2])


# -- two processes at once -----------------------------------------------------------------------

RACE = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import dcompile as dc

    start = float(sys.argv[1])
    while time.time() < start:  # both processes start compiling at the same moment
        time.sleep(0.001)

    @dc.compile
    def race(x, w):
        return np.sum(np.tanh(x * w) ** 2) + np.dot(x, w)

    x = np.linspace(-1.0, 1.0, 7)
    w = np.cos(np.arange(7.0))
    vg = dc.value_and_grad(race)
    value, (gx, gw) = vg(x, w)
    print(json.dumps({"value": value, "gx": list(gx), "gw": list(gw), "hit": vg.kernel.cache_hit}))
    """
)


@pytest.mark.numba
def test_two_processes_compiling_the_same_function_at_once(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, **{ENV_VAR: str(cache)})
    import time

    def launch(start: float) -> list[subprocess.Popen]:
        return [
            subprocess.Popen(
                [sys.executable, "-c", RACE, str(start)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]

    results = []
    for start in (time.time() + 4.0, 0.0):  # both at once, then both again from the cache
        for p in launch(start):
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err.decode()
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
    x = np.linspace(-1.0, 1.0, 7)
    w = np.cos(np.arange(7.0))
    t = np.tanh(x * w)
    expected_gx = 2 * t * (1 - t**2) * w + w
    for r in results:
        assert r["value"] == pytest.approx(np.sum(t**2) + x @ w, rel=1e-13)
        np.testing.assert_allclose(r["gx"], expected_gx, rtol=1e-12)
        assert {k: v for k, v in r.items() if k != "hit"} == {k: v for k, v in results[0].items() if k != "hit"}
    assert results[2]["hit"] and results[3]["hit"], [r["hit"] for r in results]
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_tempfile_is_the_module_used_by_the_cache():
    """The fault tests above monkeypatch ``cache.tempfile``/``cache.os``: they must be what it uses."""
    assert cache_mod.tempfile is tempfile and cache_mod.os is os


def test_a_concurrent_writers_good_file_is_kept(tmp_path):
    """Regression: two processes both missing the file both wrote it, and the second ``os.replace``
    changed its timestamp after the first process's numba had saved machine code keyed on it:
    every later process compiled again. Now a good file already in place is kept."""
    source = "value = 1\n"
    path = write_module("w", source, tmp_path)
    before = path.stat()
    fd, tmp = tempfile.mkstemp(dir=tmp_path)
    os.write(fd, source.encode())
    os.close(fd)
    cache_mod._publish(tmp, path, source)  # what the second writer does once its file is ready
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
