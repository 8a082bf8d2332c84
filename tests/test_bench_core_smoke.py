"""The core benchmark's in-process measurement runs against the current API.

``benchmarks/bench_core.py`` is run by hand, so an API change can break it
unnoticed (``Function.compiled`` gained its signature argument and the script
kept the old call). This runs its runtime measurement once, on the worked
example only, with the smallest timing budget: it must agree with the
hand-written kernels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.numba

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_the_core_benchmark_measures_the_worked_example():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_core
    finally:
        sys.path.remove(str(BENCHMARKS))
    result = bench_core.measure_runtime("worked_example", bench_core.hand_written(), 1, 0.001)
    assert result["agrees_with_hand_written"] and result["into_agrees"]
    assert result["dc_vg_n_statements"] > result["dc_f_n_statements"] > 0
