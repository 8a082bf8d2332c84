"""The code in docs/index.md runs, and its listing is the real one."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = (Path(__file__).parent.parent / "docs" / "index.md").read_text()


def test_user_guide_examples_run_in_order():
    namespace: dict = {}
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) >= 4
    for i, block in enumerate(blocks):
        code = block.replace('"log_cosh"', '"docs_log_cosh"')  # primitive names are global
        exec(compile(code, f"docs/index.md block {i}", "exec"), namespace)
    dc = namespace["dc"]
    listing = re.search(r"print\(f\.ir\)\n```\n\n```\n(.*?)```", DOC, flags=re.S).group(1)
    assert str(namespace["f"].ir) + "\n" == listing
    gW, gb = namespace["gW"], namespace["gb"]
    assert gW.shape == (5, 8) and gb.shape == (8,)
    W, b, X, y = (namespace[k] for k in ("W", "b", "X", "y"))
    h = 1e-6
    e = np.zeros_like(b)
    e[3] = h
    fd = (namespace["loss"](W, b + e, X, y) - namespace["loss"](W, b - e, X, y)) / (2 * h)
    np.testing.assert_allclose(gb[3], fd, rtol=1e-6)
    outer = namespace["outer"]
    assert dc.grad(outer)(0.4, 1.3).shape == (2,)
    np.testing.assert_allclose(dc.grad(namespace["g"])(1.0, 2.0, 3.0, 4.0), [136.0, 64.0, 104.0, 32.0])
