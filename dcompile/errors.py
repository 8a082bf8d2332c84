"""Errors that name the user's construct, their source line and the fix.

Every error dcompile raises for a user mistake is a :class:`DcompileError`.
Tracing errors carry the location of the offending line in the user's code,
found by walking the stack to the innermost frame outside dcompile (and
outside NumPy), and show that line with a caret under the expression.
"""

from __future__ import annotations

import linecache
import os
import sys
import sysconfig
from dataclasses import dataclass
from types import FrameType, TracebackType

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_NUMPY_MARK = os.sep + "numpy" + os.sep
# The standard library and installed packages (SciPy, inspect, ...): library code, never the user's line.
_LIBRARY_DIRS = tuple(
    os.path.abspath(p) + os.sep
    for p in {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)


class DcompileError(Exception):
    """Base class of every error dcompile raises for a user mistake."""


class TraceError(DcompileError, TypeError):
    """The traced function did something that cannot be compiled."""


class UnsupportedError(DcompileError, TypeError):
    """A function or construct dcompile has no rule for."""


class SignatureError(DcompileError, TypeError):
    """Bad arguments: wrong count, wrong type, unknown ``wrt``."""


class ExtensionError(DcompileError, TypeError):
    """A user primitive (``dcompile.extend``) that cannot be declared or compiled as given."""


class NonFiniteError(DcompileError, FloatingPointError):
    """A NaN or an infinity found with ``dcompile.config(debug_nans=True)`` (see :mod:`dcompile.debug`)."""


class IntegerUse(TraceError):
    """A float argument was used as an integer (an index, a count).

    Raised with the argument's IR value; when the caller passed an integer
    there, the function is traced again with that argument as an integer
    (see ``Function.signature``), so ``z[label]`` works with ``label=3``.
    """

    def __init__(self, message: str, value: object = None) -> None:
        super().__init__(message)
        self.value = value
        self.position: int | None = None


class StaticUse(TraceError):
    """A scalar argument was used as a Python value: ``range(n)``, ``if flag:``, a shape, ``int(n)``.

    Raised with the argument's IR value and the error that would otherwise be
    shown (``original``). When the caller passed an ``int`` or a ``bool`` there,
    the function is traced again with that argument as a constant (see
    ``dcompile.calling``): a new value of it compiles again, as JAX's static
    arguments do. A float argument gets ``original``.
    """

    def __init__(self, original: TraceError, value: object) -> None:
        super().__init__(str(original))
        self.original = original
        self.value = value
        self.position: int | None = None


@dataclass(frozen=True)
class Location:
    """A place in the user's source: file, line, function, caret columns."""

    filename: str
    lineno: int
    function: str
    col: int | None = None
    end_col: int | None = None

    def render(self) -> str:
        text = f'  File "{self.filename}", line {self.lineno}, in {self.function}'
        line = linecache.getline(self.filename, self.lineno)
        if line:
            stripped = line.rstrip("\n")
            indent = len(stripped) - len(stripped.lstrip())
            text += "\n    " + stripped.strip()
            if self.col is not None and self.end_col is not None and self.end_col > self.col:
                text += "\n    " + " " * (self.col - indent) + "^" * (self.end_col - self.col)
        return text

    @property
    def source_line(self) -> str:
        return linecache.getline(self.filename, self.lineno).strip()


# Modules of the package that hold user-level code (the demo's functions).
_USER_MODULES = frozenset({os.path.join(_PACKAGE_DIR, "demo.py")})


def is_internal(filename: str) -> bool:
    """Whether ``filename`` is dcompile's own code (not the user's; ``demo.py`` counts as the user's)."""
    path = os.path.abspath(filename)
    if path in _USER_MODULES:
        return False
    return (
        path.startswith(_PACKAGE_DIR + os.sep)
        or _NUMPY_MARK in path
        or filename.startswith("<frozen")
        or path.startswith(_LIBRARY_DIRS)
    )


def user_traceback(exc: BaseException) -> BaseException:
    """``exc`` with dcompile's own frames removed from its traceback (the user's, NumPy's stay).

    A user mistake reported ten frames deep inside the pipeline is read from the
    bottom: the message and the user's line are what matter, so (as JAX does)
    the frames of dcompile's modules are dropped. ``DCOMPILE_TRACEBACK=full``
    keeps them, for debugging dcompile itself.
    """
    if os.environ.get("DCOMPILE_TRACEBACK", "").lower() == "full":
        return exc
    kept = []
    tb = exc.__traceback__
    while tb is not None:
        path = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if not path.startswith(_PACKAGE_DIR + os.sep) or path in _USER_MODULES:
            kept.append(tb)
        tb = tb.tb_next
    new: TracebackType | None = None
    for t in reversed(kept):
        new = TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return exc.with_traceback(new)


def user_location(frame: FrameType | None = None) -> Location | None:
    """The innermost frame on the stack that belongs to user code."""
    f = frame if frame is not None else sys._getframe(1)
    while f is not None and is_internal(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return None
    col = end_col = None
    positions = list(f.f_code.co_positions())
    index = f.f_lasti // 2
    if 0 <= index < len(positions):
        _, _, col, end_col = positions[index]
    return Location(f.f_code.co_filename, f.f_lineno, f.f_code.co_name, col, end_col)


def trace_error(problem: str, fix: str, cls: type[DcompileError] = TraceError) -> DcompileError:
    """Build an error that says what went wrong, where, and how to fix it."""
    loc = user_location()
    where = f"\n{loc.render()}" if loc else ""
    return cls(f"{problem}{where}\nFix: {fix}")
