"""Names belong to the printer: hints become unique, safe Python identifiers.

A value's hint may come from anywhere (a user's variable, a SymPy symbol such
as ``"x); import os"``, a derivative convention); :func:`sanitize` turns any
string into a valid identifier that cannot be a keyword or shadow a name the
generated module uses, and :class:`Namer` makes names unique in order of
first request (``a``, ``a_1``, ...). Unnamed temporaries are ``t0, t1, ...``.
"""

from __future__ import annotations

import builtins
import keyword
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the printer, which Graph.__str__ calls, uses this module
    from dcompile.ir.graph import Value

# Names the generated module itself uses.
RESERVED = frozenset({"np", "vm", "numba", "math", "_out", "_dcs", "_dcl", "_dcx", "_dcc"}) | frozenset(dir(builtins))
_INVALID = re.compile(r"[^0-9A-Za-z_]+")


def sanitize(hint: str) -> str:
    """A valid identifier derived from ``hint`` (never a keyword or reserved name)."""
    name = _INVALID.sub("_", hint).strip("_") or "v"
    if name[0].isdigit():
        name = "v" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED:
        name += "_"
    return name


class Namer:
    """Assigns each value a unique identifier, stable in order of request."""

    def __init__(self, hints: dict[Value, str] | None = None, taken: set[str] | None = None) -> None:
        self._hints = hints or {}
        self._names: dict[Value, str] = {}
        self._used: set[str] = set(taken or ())
        self._temps = 0
        self._suffix: dict[str, int] = {}  # the last suffix fresh() gave each base name
        # Anonymous temporaries never take a name some value is hinted to have.
        self._hinted = {sanitize(h) for h in self._hints.values()}

    def fresh(self, hint: str) -> str:
        """A new unique identifier based on ``hint``."""
        base = sanitize(hint)
        name, k = base, self._suffix.get(base, 0)
        if name in self._used:
            while name in self._used:
                k += 1
                name = f"{base}_{k}"
            self._suffix[base] = k  # the next fresh(base) starts here: linear, not quadratic, in repeats
        self._used.add(name)
        return name

    def named(self) -> dict[Value, str]:
        """The values named so far, with their names."""
        return dict(self._names)

    def bind(self, v: Value, name: str) -> None:
        """Give ``v`` a name the generated module defines itself (the ``_out`` parameter), not a fresh one."""
        self._names[v] = name
        self._used.add(name)

    def reserve(self, *names: str) -> None:
        """Names the generated module defines itself (``_out0, _out1, ...``): never given to a value."""
        self._used.update(names)

    def share(self, v: Value, owner: Value) -> None:
        """Give ``v`` the name of ``owner`` (an array updated in place is one variable)."""
        self._names[v] = self(owner)

    def __call__(self, v: Value) -> str:
        name = self._names.get(v)
        if name is None:
            hint = self._hints.get(v)
            if hint is None:
                while f"t{self._temps}" in self._used or f"t{self._temps}" in self._hinted:
                    self._temps += 1
                name = f"t{self._temps}"
                self._used.add(name)
            else:
                name = self.fresh(hint)
            self._names[v] = name
        return name
