"""Loop fusion changes how array code is printed, never what it computes.

Every program of the array table is emitted twice, fused (the default) and as
one NumPy statement per equation, and both run on the Python backend for the
value, the gradient, the Hessian and the Jacobian.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

import dcompile as dc
from dcompile.backend.cache import write_module
from dcompile.emit.emitter import emit_module
from tests.test_arrays import BY_ID, PROGS, float_positions, function, inputs


def run_emitted(d: dc.Derivative, args: tuple[Any, ...], *, fuse: bool) -> Any:
    d.specialize(*args)
    prog = d.program
    emitted = emit_module(prog.graph, prog.function, prog.layout, prog.doc, fuse=fuse)
    path = write_module(f"{prog.function}_{'fused' if fuse else 'plain'}", emitted.source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    conv = d.fn.signature(args)[1]
    with np.errstate(all="ignore"):
        return getattr(module, prog.function)(*[np.float64(a) if np.ndim(a) == 0 else a for a in conv])


def assert_same(a: Any, b: Any) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
        return
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


def modes(pid: str) -> list[str]:
    p = BY_ID[pid]
    out = ["f"]
    if float_positions(pid):
        out.append("jacobian" if p.jac else "value_and_grad")
    if p.hess:
        out.append("hessian")
    return out


@pytest.mark.parametrize("pid", [p.id for p in PROGS])
def test_fused_and_plain_code_agree(pid: str) -> None:
    f = function(pid)
    args = inputs(pid)
    wrt = tuple(float_positions(pid)) or None
    for mode in modes(pid):
        if mode == "f":
            d = f._primal
        else:
            maker = getattr(dc, mode)
            d = maker(f, wrt=wrt)
        try:
            fused = run_emitted(d, args, fuse=True)
        except dc.SignatureError:  # e.g. grad of an array-valued program
            continue
        assert_same(fused, run_emitted(d, args, fuse=False))


def test_fusion_makes_one_loop_for_rosenbrock() -> None:
    @dc.compile(backend="python")
    def rosen(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    src = dc.value_and_grad(rosen).specialize(np.zeros(50)).source
    assert src.count("for i in range(49):") == 1
    assert src.count("np.empty(50)") == 1 and "np.zeros" not in src  # no temporaries, one gradient
    # written once per entry (emitter._Printer._write_once): entry i is complete at iteration i
    assert "drosen_dx[i] = carry + drosen_dt1" in src and "carry = drosen_dt3" in src
