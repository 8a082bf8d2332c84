"""Graphs to readable Python source: the emitter, loop fusion and the splitting of long bodies.

This layer prints a derived graph (and its :mod:`dcompile.ir.layout`) as a
Python module that needs only NumPy; it knows nothing of numba.
:mod:`dcompile.backend` compiles what it emits and caches the result.
"""
