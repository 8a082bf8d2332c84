"""The fence around numba's private internals (dcompile.backend.numba_private).

The supported numba range and the switch decide whether the fast paths run
(outside the range: one warning per process); the array structure's field
positions come from numba's data model; and a hook that raises falls back to
numba's public path, with numba's cache files kept. (The core with the
switch off: tests/test_fast_paths_off.py.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import dcompile as dc
from dcompile.backend import numba_private
from dcompile.backend.cache import ENV_VAR, numba_cache_files
from dcompile.backend.numba_private import array_layout, cache_load


@pytest.fixture
def fresh(monkeypatch):
    """No warning shown yet, the switch on, numba in range."""
    monkeypatch.setattr(numba_private, "_warned", set())
    monkeypatch.setattr(numba_private, "IN_RANGE", True)
    monkeypatch.delenv(numba_private.ENV, raising=False)


def test_the_installed_numba_is_in_the_supported_range():
    import numba

    assert tuple(int(p) for p in numba.__version__.split(".")[:2]) == numba_private.VERSION
    # A canary: CI installs the newest numba. Widen SUPPORTED once the test suite passes with it.
    assert numba_private.IN_RANGE, f"numba {numba.__version__} is outside SUPPORTED: test it, then widen the range"


RANGE_CASES = [((0, 59), True), ((0, 68), True), ((0, 58), False), ((0, 69), False), ((1, 0), False), ((), False)]


@pytest.mark.parametrize(("version", "ok"), RANGE_CASES)
def test_the_range_is_inclusive(version, ok):
    assert numba_private.SUPPORTED == ((0, 59), (0, 68))
    assert numba_private.in_range(version) is ok


@pytest.mark.parametrize("value", ["0", "false", "OFF", " no "])
def test_the_switch_turns_the_fast_paths_off_without_a_warning(fresh, monkeypatch, value):
    monkeypatch.setenv(numba_private.ENV, value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not numba_private.fast_paths()
    monkeypatch.setenv(numba_private.ENV, "1")
    assert numba_private.fast_paths()


def test_outside_the_range_the_fast_paths_are_off_with_one_warning(fresh, monkeypatch):
    monkeypatch.setattr(numba_private, "IN_RANGE", False)
    with pytest.warns(RuntimeWarning, match="outside the range") as record:
        assert not numba_private.fast_paths()
        assert not numba_private.fast_paths()
    assert len(record) == 1


@pytest.mark.numba
def test_the_array_fields_come_from_numbas_data_model():
    from numba.core import types
    from numba.core.registry import cpu_target

    context = cpu_target.target_context
    model = context.data_model_manager.lookup(types.Array(types.float64, 1, "C"))
    # The layout numba 0.59-0.68 has; llvm_text addresses fields 4 (data) and 5 (shape).
    assert tuple(model._fields) == ("meminfo", "parent", "nitems", "itemsize", "data", "shape", "strides")
    for ndim in (1, 2):
        assert array_layout.array_fields(context, types.Array(types.float64, ndim, "C")) == (4, 5)
    assert array_layout.array_fields(context, types.float64) is None  # not an array: no layout


@pytest.mark.numba
def test_a_reordered_array_structure_is_noticed(monkeypatch):
    from numba.core import types
    from numba.core.registry import cpu_target

    context = cpu_target.target_context
    ty = types.Array(types.float64, 1, "C")
    model = context.data_model_manager.lookup(ty)
    monkeypatch.setattr(model, "get_field_position", lambda name: {"data": 2, "shape": 5}[name])  # nitems
    assert array_layout.array_fields(context, ty) is None  # the text lowering then steps aside


def poly(x, y):
    return np.sin(x) * y + x**3


@pytest.mark.numba
@pytest.mark.parametrize("hook", ["quick_load", "_quick_unserialize"])
def test_a_failing_load_hook_falls_back_to_numbas_loader_and_keeps_its_cache(fresh, tmp_path, monkeypatch, hook):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "cache"))
    first = dc.value_and_grad(dc.compile(poly))
    expected = first(1.0, 2.0)
    files = numba_cache_files(first.kernel.path)
    assert files and not first.kernel.cache_hit
    stamps = {p: p.stat().st_mtime_ns for p in files}

    def broken(*args, **kwargs):
        raise AttributeError("a private attribute numba renamed")

    monkeypatch.setattr(cache_load, hook, broken)
    with pytest.warns(RuntimeWarning, match="cache_load failed") as record:
        again = dc.value_and_grad(dc.compile(poly))
        got = again(1.0, 2.0)
    assert len(record) == 1
    assert again.kernel.cache_hit  # loaded by numba's own loader, not compiled again
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1])
    assert {p: p.stat().st_mtime_ns for p in numba_cache_files(again.kernel.path)} == stamps  # kept, untouched
