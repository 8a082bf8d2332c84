"""An LLVM function whose body is given as LLVM assembly text.

Entry point: :func:`text_function`.

Private thing touched: ``llvmlite.ir.Function`` is subclassed and its
``descr_body`` (how llvmlite prints a function's blocks; not documented API)
overridden to print the given text instead.

Why: :mod:`dcompile.backend.llvm_text` writes a part's body as text, about
20 µs per instruction cheaper than building ``llvmlite.ir`` objects and
printing them (at N = 10,000 steps of an unrolled chain, 450,000 instructions
and three seconds); the text goes into numba's module as this function's body.

Public path: none here; the caller builds the body from ``llvmlite.ir``
instructions (``text`` left ``None`` prints them as llvmlite does), and with
the fast paths off no part is lowered to LLVM at all.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _text_function_class() -> Any:
    from llvmlite import ir

    class TextFunction(ir.Function):  # type: ignore[misc]
        text: str | None = None

        def descr_body(self, buf: list[str]) -> None:
            if self.text is None:
                super().descr_body(buf)
            else:
                buf.append(self.text)

    return TextFunction


def text_function(module: Any, fnty: Any, name: str) -> Any:
    """A new ``llvmlite.ir.Function`` of ``module``; set its ``text`` to give its body as LLVM text
    (one block must still be appended: llvmlite prints a function without blocks as a declaration)."""
    return _text_function_class()(module, fnty, name=name)
