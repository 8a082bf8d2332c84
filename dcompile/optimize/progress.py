"""A one-line progress display for long optimizer runs, updated between compiled chunks."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO


class Progress:
    """Writes ``method  it N  f ...  |g| ...  nfev N  t s`` to ``stream`` (``unit`` replaces ``it``;
    a NaN ``|g|`` is left out).

    On a terminal the line is rewritten in place; otherwise (a log file, a CI
    job) a line is written at most once per ``every`` seconds, and always at
    the end.
    """

    def __init__(self, method: str, stream: TextIO | None = None, every: float = 1.0, unit: str = "it") -> None:
        self.method = method
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every
        self.t0 = time.perf_counter()
        self.last = -float("inf")

    def _line(self, nit: int, f: float, gmax: float, nfev: int) -> str:
        elapsed = time.perf_counter() - self.t0
        grad = f"  |g| {gmax:.3e}" if not math.isnan(gmax) else ""  # stochastic methods have no full gradient at hand
        return f"{self.method:<9} {self.unit} {nit:>7}  f {f: .6e}{grad}  nfev {nfev:>8}  {elapsed:7.2f} s"

    def update(self, nit: int, f: float, gmax: float, nfev: int) -> None:
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r" + self._line(nit, f, gmax, nfev))
            self.stream.flush()
        elif now - self.last >= self.every:
            self.stream.write(self._line(nit, f, gmax, nfev) + "\n")
            self.stream.flush()
            self.last = now

    def close(self, nit: int, f: float, gmax: float, nfev: int, message: str) -> None:
        line = self._line(nit, f, gmax, nfev)
        self.stream.write(("\r" if self.tty else "") + line + f"  {message}\n")
        self.stream.flush()
