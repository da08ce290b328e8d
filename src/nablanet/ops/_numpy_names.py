"""Where each name of NumPy's API lives (issue 17); loaded on first use.

``import nablanet`` stays light: these modules are imported when one of their names is
first asked for (``nb.sin``), not at import.  ``tests/test_ops_numpy_registry.py`` checks
that the lists equal the modules' ``__all__``.
"""

NUMPY_API = {
    "nablanet.ops.assembly": (
        "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "column_stack", "cross",
        "diag", "diagflat", "dstack", "eye", "flatten", "flip", "fliplr", "flipud", "hsplit",
        "hstack", "inner", "kron", "moveaxis", "pad", "ravel", "repeat", "roll", "rot90",
        "row_stack", "split", "tensordot", "tile", "trace", "tri", "tril", "triu", "vsplit",
        "vstack",
    ),
    "nablanet.ops.elementwise": (
        "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "around",
        "cbrt", "ceil", "cos", "cosh", "deg2rad", "degrees", "exp2", "floor", "fmod", "hypot",
        "isfinite", "isinf", "isnan", "log10", "log2", "logaddexp", "logaddexp2", "mod",
        "nan_to_num", "rad2deg", "radians", "reciprocal", "remainder", "rint", "round", "sin",
        "sinc", "sinh", "tan", "trunc",
    ),
    "nablanet.ops.scans": (
        "all", "any", "argmax", "argmin", "argsort", "average", "count_nonzero", "cumprod",
        "cumsum", "nanmean", "nansum", "prod", "ptp", "sort", "std", "var",
    ),
    "nablanet.ops.contraction": (
        "einsum",
    ),
}

#: name -> module that defines it
LAZY = {name: module for module, names in NUMPY_API.items() for name in names}
