"""Dependencies point down only (issue 23): the layering rules of ``tests/package_graph.py`` hold, and the
picture of the package graph in docs/design.md is the one the code draws."""

from __future__ import annotations

from pathlib import Path

from tests import package_graph as pg


def test_the_package_is_layered_without_cycles_or_borrowed_private_names():
    assert pg.check(pg.read_graph()) == []


def test_the_design_notes_show_the_current_package_graph():
    doc = pg.DOC.read_text()
    assert doc.count(pg.BEGIN) == 1 and doc.count(pg.END) == 1
    assert pg.with_graph(doc, pg.render(pg.read_graph())) == doc, (
        "docs/design.md: the package graph is stale; run python -m tests.package_graph --update"
    )


def test_the_ir_imports_only_the_leaves():
    graph = pg.read_graph()
    below = {pg.component(e.target) for e in graph.edges if pg.component(e.source) == "ir"} - {"ir"}
    assert below <= set(pg.LAYERS[0])


def _package(root: Path, files: dict[str, str]) -> pg.Graph:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pg.read_graph(root, "pkg")


LAYERS = (("low",), ("mid", "side"), ("top",), ("pkg",))


def test_a_layered_toy_package_breaks_only_the_private_name_rule(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "from pkg.top import run\n",
            "low.py": "def _helper(): pass\n",
            "mid/__init__.py": "",
            "mid/a.py": "from pkg.low import _helper\n",  # private, from another component: the one error
            "mid/b.py": "from . import a\nfrom .a import _x\n",  # private inside one component: allowed
            "side.py": "import pkg.low as low\n",
            "top.py": "from pkg import mid, side\nfrom pkg.mid.b import a\n\ndef run():\n    from pkg.low import x\n",
        },
    )
    assert pg.check(graph, LAYERS) == ["pkg.mid.a:1 uses _helper of pkg.low from another component"]
    assert [(e.source, e.target) for e in graph.edges if e.source == "pkg.mid.b"] == [
        ("pkg.mid.b", "pkg.mid.a"),
        ("pkg.mid.b", "pkg.mid.a"),
    ]


def test_each_rule_catches_its_break(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "low.py": "def f():\n    from pkg import top\n",  # upward, even deferred into a function
            "mid.py": "import pkg.side\n",  # sideways: same layer
            "side.py": "x = 1\n",
            "top.py": "import pkg.low as low\n\nlow._secret()\nfrom pkg._hidden import y\n",
            "_hidden.py": "y = 1\n",  # a component that has no layer
            "extra/__init__.py": "",
            "extra/a.py": "from pkg.extra import b\n",
            "extra/b.py": "def g():\n    from pkg.extra import a\n",  # a cycle inside one component
            "extra/c.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.extra.d import D\n"),
            "extra/d.py": "from pkg.extra.c import C\n",  # c <-> d only for annotations: no cycle
        },
    )
    errors = pg.check(graph, (*LAYERS, ("extra",)))
    assert errors == [
        "_hidden: a component with no layer (add it to LAYERS)",
        "pkg.low:2 imports pkg.top: top (layer 2) is above low (0)",
        "pkg.mid:1 imports pkg.side: mid and side share layer 1",
        "import cycle among pkg.extra.a, pkg.extra.b",
        "import cycle among pkg.low, pkg.top",
        "pkg.top:4 uses _hidden of pkg._hidden from another component",
        "pkg.top:3 uses _secret of pkg.low from another component",
    ]


def test_the_picture_leaves_out_implied_edges_and_the_table_keeps_them(tmp_path):
    graph = _package(
        tmp_path,
        {
            "__init__.py": "",
            "low.py": "",
            "mid.py": "import pkg.low\n",
            "side.py": "",
            "top.py": "import pkg.mid\nimport pkg.low\n",
        },
    )
    text = pg.render(graph, LAYERS)
    assert "  top --> mid\n" in text and "  mid --> low\n" in text and "top --> low" not in text
    assert "| 2 | `top` | `low`, `mid` |" in text
    doc = f"before\n{pg.BEGIN}old\n{pg.END}after\n"
    assert pg.with_graph(doc, text) == f"before\n{text}after\n"
