"""The derivation as the lecture notes write it: the engine behind ``dcompile explain``.

First the intermediates, one per equation of the traced graph, in the user's
variable names (``a = x1 + w1``, ..., ``f = d*e``; unnamed temporaries are
``t0, t1, ...`` as in ``dcompile show --stage ir``); then a chain-rule table
derived symbolically with SymPy, each intermediate a symbol: backpropagation
(``df/dv`` from ``df/df = 1`` back to the inputs, the default) or forward
propagation (``dv/dx`` from an input ``x`` to the output), short formulas
substituted into later ones, long ones referred to by name (``df_da``); see
:mod:`~dcompile.explain.tables`. ``expand=True`` adds each formula in the inputs.

Array functions are explained in NumPy instead: the intermediates as
statements with their shapes, then the table read off the derivative graph
that is compiled (``dcompile show --mode grad --stage simplified``), one entry
per adjoint (``drosen/dt3 = 200.0 * t3``) or, forward, per tangent along a
direction array ``dw``. LaTeX and expansion are for scalar functions only.

The modules, one job each:

* :mod:`~dcompile.explain.model`: the explanations as data, and :class:`ExplainError`;
* :mod:`~dcompile.explain.symbolic`: a scalar graph raised to SymPy, with its local partials;
* :mod:`~dcompile.explain.tables`: the chain-rule tables (:func:`explain`);
* :mod:`~dcompile.explain.numpy_printer`: NumPy text for the equations of a graph;
* :mod:`~dcompile.explain.arrays`: the NumPy tables of array functions (:func:`explain_array`);
* :mod:`~dcompile.explain.render`: plain text, LaTeX and JSON-ready data.
"""

from dcompile.explain.arrays import explain_array, is_array_graph
from dcompile.explain.model import ArrayExplanation, ArrayLine, ExplainError, Explanation, Line
from dcompile.explain.render import array_data, as_data, format_array, format_latex, format_plain
from dcompile.explain.tables import explain

__all__ = [
    "ArrayExplanation",
    "ArrayLine",
    "ExplainError",
    "Explanation",
    "Line",
    "array_data",
    "as_data",
    "explain",
    "explain_array",
    "format_array",
    "format_latex",
    "format_plain",
    "is_array_graph",
]
