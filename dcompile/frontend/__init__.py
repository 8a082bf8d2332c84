"""Front ends: Python tracing and SymPy lowering, both producing IR graphs."""
