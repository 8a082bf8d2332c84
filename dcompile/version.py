"""The version of dcompile, written in this one place.

A leaf module (it imports nothing), so that code at any layer can name the
version without importing the package root, which imports everything:
``dcompile/__init__.py`` re-exports it, the emitter writes it into the
docstring of every generated module, and ``pyproject.toml`` reads it from
here.
"""

__version__ = "0.1.0"
