"""Helpers that generated modules import at run time (special functions under numba and Python).

Generated code stays plain NumPy wherever NumPy (and numba's support of it)
has the function; what NumPy lacks — SciPy's special functions, triangular
solves — comes from here, under one short alias (``_dcs``, ``_dcl``) that
the emitter adds to the module's imports only when the code uses it.
"""
