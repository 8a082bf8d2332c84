"""The writing-into variant builds the gradient in the caller's buffer: no gradient array per call.

``vg.njit_into(out, *args)`` is what optimizer loops in user numba code call many
times. Where the gradient is built by loops and in-place updates, the generated
code writes it straight into ``_out`` (zeroing it first only when the chain starts
from zeros; the adding variant adds without zeroing) instead of filling a
temporary and copying it. Allocations are counted with numba's NRT statistics
(``numba.core.runtime.rtsys.get_allocation_stats``), which need
``NUMBA_NRT_STATS=1`` before numba is imported: they are measured in a fresh
process, which also reports the values the allocating call gives for the same
arguments. The breadth of the emitter's cases is checked on the pure-Python
backend, where allocations do not matter.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import numpy as np
import pytest

import dcompile as dc
from tests.helpers import close, fd_gradient, nrt_report
from tests.test_arrays import SCALAR_PROGS, inputs


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def terms(x):
    return np.sum(np.log1p(x**2)) + np.sum(np.cos(x))


def grid(X):
    return np.sum(np.log1p(X**2)) + np.sum(np.cos(X) * X)


# Measured in the child process: (label, function, argument, mode, adding). Kept few: each is a numba compile.
CHILD = textwrap.dedent(
    """
    import json, sys
    import numba
    import numpy as np
    from numba.core.runtime import rtsys
    import dcompile as dc
    from tests.test_into_alloc import grid, rosen, terms

    def per_call(step, out, args, calls):
        @numba.njit
        def loop(out, args, n):
            for _ in range(n):
                step(out, *args)

        loop(out, args, 1)  # compile (and warm) outside the count

        def allocations(n):
            before = rtsys.get_allocation_stats()
            loop(out, args, n)
            after = rtsys.get_allocation_stats()
            return after.alloc - before.alloc

        # the call from Python itself may allocate (unboxing): subtract a loop of no calls
        return (allocations(calls) - allocations(0)) / calls

    rng = np.random.default_rng(7)
    cases = [
        ("rosen50", rosen, rng.uniform(-1.5, 1.5, 50), "value_and_grad", False),
        ("rosen1e4", rosen, rng.uniform(-1.5, 1.5, 10**4), "value_and_grad", False),
        ("rosen50_grad", rosen, rng.uniform(-1.5, 1.5, 50), "grad", False),
        ("terms", terms, rng.normal(size=200), "value_and_grad", False),
        ("grid", grid, rng.normal(size=(6, 9)), "value_and_grad", False),
        ("rosen50_add", rosen, rng.uniform(-1.5, 1.5, 50), "value_and_grad", True),
        ("terms_add", terms, rng.normal(size=200), "value_and_grad", True),
    ]
    report = {}
    for label, fn, x, mode, adding in cases:
        f = dc.compile(fn, name=f"alloc_{fn.__name__}")
        d = getattr(dc, mode)(f).specialize(x)
        kernel = f.compiled(d.sig, mode, d.wrt, into=True, accumulate=adding)
        start = rng.normal(size=x.shape) if adding else np.full(x.shape, np.nan)
        out = start.copy()
        got = kernel.njit(out, x)
        expected = dc.value_and_grad(f)(x)  # the allocating call
        report[label] = {
            "fn": fn.__name__,
            "allocs": per_call(kernel.njit, np.zeros(x.shape), (x,), 50 if x.size > 1000 else 500),
            "x": x.ravel().tolist(),
            "shape": list(x.shape),
            "value": float(got) if mode == "value_and_grad" else None,
            "grad": (out - start).ravel().tolist() if adding else out.ravel().tolist(),
            "expected_value": float(expected[0]),
            "expected_grad": expected[1].ravel().tolist(),
        }
    print(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    return nrt_report(CHILD)


LABELS = ["rosen50", "rosen1e4", "rosen50_grad", "terms", "grid", "rosen50_add", "terms_add"]
FUNCTIONS = {"rosen": rosen, "terms": terms, "grid": grid}


@pytest.mark.numba
@pytest.mark.parametrize("label", LABELS)
def test_no_allocation_per_call(measured, label):
    assert measured[label]["allocs"] == 0.0


@pytest.mark.numba
@pytest.mark.parametrize("label", LABELS)
def test_values_equal_the_allocating_call(measured, label):
    r = measured[label]
    grad, expected = np.array(r["grad"]), np.array(r["expected_grad"])
    if label.endswith("_add"):  # (start + g) - start: rounded once more
        close(grad, expected, label, rtol=1e-13)
    else:
        np.testing.assert_allclose(grad, expected, rtol=1e-14, atol=0.0)
    if r["value"] is not None:
        assert r["value"] == pytest.approx(r["expected_value"], rel=1e-14, abs=0.0)


@pytest.mark.numba
@pytest.mark.parametrize("label", ["rosen50", "terms", "grid", "rosen50_add"])
def test_values_match_finite_differences(measured, label):
    r = measured[label]
    fn = FUNCTIONS[r["fn"]]
    x = np.array(r["x"]).reshape(r["shape"])
    close(np.array(r["grad"]).reshape(x.shape), fd_gradient(fn, x, 1e-3), label, rtol=1e-7)


# -- the emitted source, and breadth on the pure-Python backend ------------------------------


def _into_source(fn: Any, args: tuple[Any, ...], mode: str, adding: bool, wrt: tuple[int, ...] = (0,)) -> str:
    f = dc.compile(fn, backend="python", name=f"src_{fn.__name__}")
    sig, _ = f.signature(args)
    return f.emitted(sig, mode, wrt, into=True, accumulate=adding).source


# ``_out[:] = g`` / ``_out += g``: the gradient copied (added) in from an array of its own
COPIED = re.compile(r"^\s*_out(\[:\])? \+?= [A-Za-z_]\w*$", re.MULTILINE)


@pytest.mark.parametrize("mode", ["value_and_grad", "grad"])
def test_rosenbrock_is_written_into_out_once_per_entry(mode):
    src = _into_source(rosen, (np.ones(9),), mode, adding=False)
    assert "_out[i] = carry + " in src and "_out[8] = carry" in src  # see tests/test_write_once.py
    assert "_out[:] = 0.0" not in src and "np.zeros" not in src and "np.empty" not in src and not COPIED.search(src)
    added = _into_source(rosen, (np.ones(9),), mode, adding=True)  # adds: no zeroing, no carry
    assert "_out[1 + i] += " in added and "_out[i] += " in added and "_out[:] = 0.0" not in added
    assert not COPIED.search(added)


def wide(x):
    return np.sum(x[6:] * x[:-6])  # a spread of 6 keeps its scatters (MAX_SPREAD)


def test_scatters_from_zeros_zero_out_first():
    src = _into_source(wide, (np.ones(9),), "grad", adding=False)
    assert "_out[:] = 0.0" in src and "_out[6 + i] += " in src and "np.zeros" not in src and not COPIED.search(src)
    added = _into_source(wide, (np.ones(9),), "grad", adding=True)
    assert "_out[6 + i] += " in added and "_out[:] = 0.0" not in added and not COPIED.search(added)


def test_a_loop_storing_every_entry_needs_no_zeroing():
    src = _into_source(grid, (np.ones((3, 4)),), "value_and_grad", adding=False)
    assert "_out[i, j] = " in src and "_out[:] = 0.0" not in src and "np.empty" not in src
    added = _into_source(grid, (np.ones((3, 4)),), "value_and_grad", adding=True)
    assert "_out[i, j] += " in added


def unrolled(x):
    return x[0] * x[1] + x[2] ** 2


def test_entries_at_constant_indices_go_straight_into_out():
    src = _into_source(unrolled, (np.ones(3),), "grad", adding=False)
    assert "_out[:] = 0.0" in src and "np.zeros" not in src and not COPIED.search(src)
    added = _into_source(unrolled, (np.ones(3),), "grad", adding=True)
    assert "_out[:] = 0.0" not in added and "_out[0] += " in added and not COPIED.search(added)


def read_again(m, w):
    return np.sum(np.sum(m**2, axis=0) * w)  # d/dw is sum(m**2, axis=0), also read by the value


def reshaped(x, y):
    return np.sum(np.tanh(x.reshape(2, 3) @ y))  # d/dx is a reshape (a view) of a matrix product


@pytest.mark.parametrize(
    ("fn", "args", "wrt"),
    [(read_again, (np.ones((3, 4)), np.ones(4)), (1,)), (reshaped, (np.ones(6), np.ones(3)), (0,))],
)
def test_a_gradient_that_cannot_live_in_out_is_copied(fn, args, wrt):
    for adding in (False, True):
        assert COPIED.search(_into_source(fn, args, "value_and_grad", adding, wrt))


def _array_cases() -> list[Any]:
    cases = []
    for p in SCALAR_PROGS:
        for k, a in enumerate(inputs(p.id)):
            if np.ndim(a) and np.asarray(a).dtype == np.float64:
                cases.append(pytest.param(p.id, k, id=f"{p.id}-{k}"))
    return cases


@pytest.mark.parametrize(("pid", "k"), _array_cases())
def test_into_and_adding_agree_with_the_allocating_call(pid, k):
    from tests.test_arrays import function

    f = function(pid)
    args = inputs(pid)
    sig, conv = f.signature(args)
    value, grad = dc.value_and_grad(f, wrt=(k,))(*args)
    rng = np.random.default_rng(3)
    for mode in ("value_and_grad", "grad"):
        out = np.full(grad.shape, np.nan)  # every entry must be written
        got = f.compiled(sig, mode, (k,), into=True).fn(out, *conv)
        np.testing.assert_allclose(out, grad, rtol=1e-14, atol=0.0, err_msg=f"{pid} {mode}")
        if mode == "value_and_grad":
            assert got == value
        start = rng.normal(size=grad.shape)
        out = start.copy()
        f.compiled(sig, mode, (k,), accumulate=True).fn(out, *conv)
        close(out - start, grad, f"{pid} {mode} adding", rtol=1e-13)


def test_out_sharing_an_argument_is_refused():
    vg = dc.value_and_grad(dc.compile(rosen, backend="python", name="into_alias"))
    x = np.linspace(-1.0, 1.0, 8)
    out = np.empty(8)
    vg.into(out, x)  # compiles; now the fast path
    for bad in (x, x.copy()):
        with pytest.raises(dc.SignatureError, match="shares memory with the argument x"):
            vg.into(bad, bad)
    buf = np.linspace(-1.0, 1.0, 16)
    with pytest.raises(dc.SignatureError, match="shares memory"):
        vg.into(buf[:8], buf[4:12])
    vg.into(buf[:8], buf[8:])  # adjacent, not overlapping
    np.testing.assert_array_equal(buf[:8], vg(buf[8:].copy())[1])
