"""glibc's malloc thresholds (dcompile/backend/memory.py): temporaries stay in the heap between calls.

Measured by page faults: a process that allocates and frees a few MiB of
arrays per "call" takes a minor fault for every page of every call without the
tuning (glibc maps the large chunks afresh, or trims them off the heap), and
next to none with it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from dcompile.backend import memory

_SCRIPT = """
import json, resource, sys
import numpy as np
from dcompile.backend import memory
applied = memory.tune_malloc() if sys.argv[1] == "tune" else False
def call():  # five 800 KB temporaries, freed at the end (as a kernel's)
    arrays = [np.ones(100_000) for _ in range(5)]
    return sum(a[-1] for a in arrays)
for _ in range(5):
    call()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    call()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({"applied": applied, "faults_per_call": faults / 50}))
"""

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="the tuning is for glibc only"
)


def _run(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", memory.ENV))}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, check=False, env={**clean, **env}
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@glibc
def test_temporaries_are_reused_instead_of_faulted_in_again() -> None:
    tuned = _run("tune")
    plain = _run("plain")
    assert tuned["applied"] and not plain["applied"]
    assert plain["faults_per_call"] > 100  # 4 MB of fresh pages per call
    assert tuned["faults_per_call"] < 10, tuned


@glibc
@pytest.mark.parametrize(
    "env", [{memory.ENV: "0"}, {"MALLOC_TRIM_THRESHOLD_": "1000000"}, {"GLIBC_TUNABLES": "glibc.malloc.mxfast=0"}]
)
def test_the_user_can_keep_glibcs_defaults(env: dict) -> None:
    assert not _run("tune", **env)["applied"]


def test_the_switch_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(memory.ENV, "off")
    assert not memory.wanted()
    monkeypatch.delenv(memory.ENV)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert not memory.wanted()
