"""The code in the docs runs, and the listings and outputs they show are the real ones."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pytest

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


# Every other page: its python blocks run in order, and the outputs it shows (```text blocks marked
# <!-- output -->, ```console blocks of dcompile commands) are what the code prints now. docs/index.md is
# run by the test above; an excerpt that cannot run alone is marked <!-- skip: where it is tested -->.
PAGES = sorted(p for p in (Path(__file__).parent.parent / "docs").rglob("*.md") if p.name != "index.md")


@pytest.mark.numba
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_code_runs_and_shows_its_real_output(page):
    from tests.docs_blocks import render

    shown, fresh = render(page)
    if fresh != shown:
        diff = "\n".join(difflib.unified_diff(shown.splitlines(), fresh.splitlines(), "shown", "printed", lineterm=""))
        pytest.fail(f"{page.name}: the output shown is not what the code prints; regenerate it with\n"
                    f"  python -m tests.docs_blocks --update {page.relative_to(page.parents[1])}\n{diff}")  # fmt: skip
