"""The disk cache: content-addressed modules, atomic writes, numba's cache across processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from dcompile.backend.cache import ENV_VAR, cache_dir, write_module

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import dcompile as dc

    @dc.compile
    def f(x, y):
        return np.sin(x) * y + x**3

    vg = dc.value_and_grad(f)
    value, grad = vg(1.0, 2.0)
    k = vg.kernel
    stats = k.njit.stats

    @dc.compile
    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    rvg = dc.value_and_grad(rosen)
    rvalue, rgrad = rvg(np.linspace(-1.0, 1.0, 50))
    print(json.dumps({
        "array_hit": rvg.kernel.cache_hit,
        "array": [rvalue, list(rgrad)],
        "hit": k.cache_hit,
        "misses": sum(stats.cache_misses.values()),
        "path": str(k.path),
        "value": value,
        "grad": list(grad),
    }))
    """
)


def run_in_fresh_process(cache: Path) -> dict:
    env = dict(os.environ, **{ENV_VAR: str(cache)})
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.numba
def test_second_process_loads_machine_code_instead_of_compiling(tmp_path):
    cache = tmp_path / "cache"
    first = run_in_fresh_process(cache)
    second = run_in_fresh_process(cache)
    assert first["hit"] is False
    assert second["hit"] is True
    assert second["misses"] == 0  # nothing was compiled
    assert first["path"] == second["path"]  # content-addressed: the same file
    assert first["value"] == second["value"] and first["grad"] == second["grad"]
    assert first["array_hit"] is False and second["array_hit"] is True  # the same shape, from disk
    assert first["array"] == second["array"]
    assert any((cache / "__pycache__").glob("*.nbi"))  # numba's index beside the module


def test_cache_dir_is_created_private(tmp_path, monkeypatch):
    target = tmp_path / "new" / "cache"
    monkeypatch.setenv(ENV_VAR, str(target))
    assert cache_dir() == target
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_modules_are_content_addressed_and_never_rewritten(tmp_path):
    p1 = write_module("f_grad", "x = 1\n", tmp_path)
    mtime = p1.stat().st_mtime_ns
    p2 = write_module("f_grad", "x = 1\n", tmp_path)
    p3 = write_module("f_grad", "x = 2\n", tmp_path)
    assert p1 == p2 and p1 != p3
    assert p1.stat().st_mtime_ns == mtime  # numba's cache keys on the timestamp
    assert p3.read_text() == "x = 2\n"


def test_concurrent_writers_never_expose_a_partial_file(tmp_path):
    source = "value = 0\n" + "# padding\n" * 20000
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(20):
                path = write_module("big", source, tmp_path)
                assert path.read_text() == source
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [p.name for p in tmp_path.iterdir()] == [write_module("big", source, tmp_path).name]
