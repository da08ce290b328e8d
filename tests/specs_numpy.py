"""Gradient-check specs for NumPy's differentiable API (issue 17).

Same format as ``specs_engine.py``: ``NUMPY_SPECS[name](rng) -> (fun, args)`` for
every primitive registered by ``ops/elementwise.py``, ``scans.py``, ``assembly.py``,
``contraction.py``, ``linalg_solve.py``, ``linalg_decomp.py`` and ``norms.py``, keyed
by its registered name; ``check_grads(fun, args, order=2)`` must pass in float64.
``NON_DIFFERENTIABLE`` lists the new primitives that are not differentiated.

``FUNCTION_SPECS`` covers the public functions that are compositions (``nb.var``,
``nb.kron``, ``nb.linalg.norm``, ...) the same way, and ``TORCH_TWINS`` names the
PyTorch function computing the same value from the same arguments.
"""

import numpy as np

import nablanet as nb
from nablanet.ops import elementwise as E
from nablanet.ops import linalg_decomp as LD
from nablanet.ops import scans as S

# -- inputs ---------------------------------------------------------------------------------


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def _uniform(low, high, *shape):
    return lambda rng: rng.uniform(low, high, shape)


def _distinct(rng, shape):
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 + rng.uniform(0, 0.1, n)).reshape(shape) - n * 0.18


def _spd(rng, n, batch=()):
    x = rng.standard_normal(batch + (n, n))
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def _well_conditioned(rng, n, batch=()):
    return rng.standard_normal(batch + (n, n)) + 2 * n ** 0.5 * np.eye(n)


def _unary(op, make):
    return lambda rng: (op, [make(rng)])


def _binary(op, make_x, make_y):
    return lambda rng: (op, [make_x(rng), make_y(rng)])


def _away(rng, shape, low, high, kinks=(), gap=0.1):
    x = rng.uniform(low, high, shape)
    for k in kinks:
        close = np.abs(x - k) < gap
        x[close] = k + gap * np.where(x[close] >= k, 1.0, -1.0)
    return x


# -- elementwise ----------------------------------------------------------------------------
def _mod_spec(op):
    def make(rng):
        x = rng.uniform(0.3, 0.7, (3, 4)) + rng.integers(-3, 3, (3, 4))
        y = np.array([1.3, 1.7, 2.1, 2.9])
        return op, [x, y]

    return make


_INF_AT = np.zeros((3, 4), bool)
_INF_AT[0, 1] = _INF_AT[2, 3] = True


def _nan_to_num(rng):
    x = rng.standard_normal((3, 4))
    return (lambda x: nb.nan_to_num(nb.where(_INF_AT, np.inf, x), posinf=2.0) * x), [x]


def _sinc(rng):
    x = rng.standard_normal((3, 4))
    x[0, 0] = 0.0  # the removable singularity: derivative 0, second derivative -pi^2/3
    return nb.sinc, [x]


ELEMENTWISE = {
    "sin": _unary(nb.sin, _normal(3, 4)),
    "cos": _unary(nb.cos, _normal(3, 4)),
    "tan": _unary(nb.tan, _uniform(-1.2, 1.2, 3, 4)),
    "arcsin": _unary(nb.arcsin, _uniform(-0.9, 0.9, 3, 4)),
    "arccos": _unary(nb.arccos, _uniform(-0.9, 0.9, 3, 4)),
    "arctan": _unary(nb.arctan, _normal(3, 4)),
    "arctan2": _binary(nb.arctan2, _normal(3, 1, 4), _normal(2, 1)),
    "sinh": _unary(nb.sinh, _normal(3, 4)),
    "cosh": _unary(nb.cosh, _normal(3, 4)),
    "arcsinh": _unary(nb.arcsinh, _normal(3, 4)),
    "arccosh": _unary(nb.arccosh, _uniform(1.2, 3.0, 3, 4)),
    "arctanh": _unary(nb.arctanh, _uniform(-0.9, 0.9, 3, 4)),
    "log2": _unary(nb.log2, _uniform(0.3, 3.0, 3, 4)),
    "log10": _unary(nb.log10, _uniform(0.3, 3.0, 3, 4)),
    "exp2": _unary(nb.exp2, _normal(3, 4)),
    "logaddexp": _binary(nb.logaddexp, _normal(3, 1, 4), _normal(2, 1)),
    "logaddexp2": _binary(nb.logaddexp2, _normal(3, 1, 4), _normal(2, 1)),
    "hypot": _binary(nb.hypot, _normal(3, 1, 4), _normal(2, 1)),
    "reciprocal": _unary(nb.reciprocal, _uniform(0.5, 2.0, 3, 4)),
    "sinc": _sinc,
    "mod": _mod_spec(nb.mod),
    "fmod": _mod_spec(nb.fmod),
    "nan_to_num": _nan_to_num,
    "cbrt": _unary(nb.cbrt, _uniform(0.3, 2.0, 3, 4)),
}


# -- reductions and scans --------------------------------------------------------------------
def _prod(rng):
    x = rng.uniform(0.5, 1.5, (3, 4, 2)) * rng.choice([-1, 1], (3, 4, 2))
    x[0, 1, 0] = 0.0  # one zero in a slice
    x[1, 0, 1] = x[1, 2, 1] = 0.0  # two zeros in a slice
    return (lambda x: nb.prod(x, axis=1) + nb.prod(x, axis=(0, 2), keepdims=True).sum()), [x]


def _cumsum(rng):
    return (lambda x: nb.cumsum(x, axis=1) ** 2 + nb.cumsum(x).sum()), [rng.standard_normal((3, 4))]


def _einsum(rng):
    a, b = rng.standard_normal((3, 3)), rng.standard_normal((2, 3, 4))

    def fun(a, b):
        traced = nb.einsum("ii", a) * nb.einsum("...jk->...k", b)[:, None, :]
        return nb.einsum("ij,...jk->...ik", a, b) + traced

    return fun, [a, b]


def _pad(rng):
    return (lambda x: nb.pad(x, ((1, 2), (0, 1)), constant_values=3.0) ** 2), [
        rng.standard_normal((2, 3))]


SCANS = {
    "prod": _prod,
    "cumsum": _cumsum,
    "pad_constant": _pad,
    "einsum": _einsum,
    "norm2": lambda rng: ((lambda x: nb.linalg.norm(x, axis=1) + nb.linalg.norm(x)),
                          [rng.standard_normal((3, 4))]),
}


# -- linear algebra ---------------------------------------------------------------------------
def _solve(rng):
    a = _well_conditioned(rng, 3, (2,))
    return nb.linalg.solve, [a, rng.standard_normal((2, 3, 2))]


def _eigh(rng):
    x = _spd(rng, 4)

    def fun(a):
        w, v = nb.linalg.eigh(a)
        return v * v[:1] + w  # the sign of each eigenvector cancels
    return fun, [x]


def _svd(rng):
    def fun(a):
        u, s, vh = nb.linalg.svd(a, full_matrices=False)
        return nb.concatenate([nb.ravel(u * u[:1]), s, nb.ravel(vh * vh[:, :1])])
    return fun, [rng.standard_normal((5, 3))]


def _qr(rng):
    def fun(a):
        q, r = nb.linalg.qr(a)
        return nb.concatenate([nb.ravel(q), nb.ravel(r)])
    return fun, [rng.standard_normal((2, 4, 3))]


LINALG = {
    "inv": _unary(nb.linalg.inv, lambda rng: _well_conditioned(rng, 3, (2,))),
    "solve": _solve,
    "solve_triangular": lambda rng: (
        lambda a, b: nb.linalg.solve_triangular(a, b, lower=True),
        [_well_conditioned(rng, 3), rng.standard_normal((3, 2))]),
    "det": _unary(nb.linalg.det, lambda rng: _well_conditioned(rng, 3, (2,))),
    "slogdet": _unary(lambda a: nb.linalg.slogdet(a)[1],
                      lambda rng: _well_conditioned(rng, 3, (2,)) * [[1], [-1], [1]]),
    "cholesky": _unary(nb.linalg.cholesky, lambda rng: _spd(rng, 3, (2,))),
    "eigh": _eigh,
    "svd": _svd,
    "qr": _qr,
    "pinv": _unary(nb.linalg.pinv, _normal(4, 3)),
    "inverse_gaps": lambda rng: ((lambda w: LD._inverse_gaps(w, np.ones((2, 4, 4), bool)
                                                             & ~np.eye(4, dtype=bool))),
                                 [_distinct(rng, (2, 4))]),
    "read_triangle": lambda rng: ((lambda x: LD._read_triangle(x, True) ** 2),
                                  [rng.standard_normal((2, 3, 3))]),
    "mirror_triangle": lambda rng: ((lambda x: LD._mirror_triangle(x, False) ** 2),
                                    [rng.standard_normal((2, 3, 3))]),
    "lower_half_diagonal": lambda rng: ((lambda x: LD._half_diagonal(x) ** 2),
                                        [rng.standard_normal((3, 3))]),
    "packed_part": lambda rng: ((lambda p: LD._part(p, 2, (2, 2)) ** 2),
                                [rng.standard_normal((3, 7))]),
    "packed_place": lambda rng: ((lambda v: LD._place(v, 1, (2,), 5) ** 2),
                                 [rng.standard_normal((3, 2))]),
}

NUMPY_SPECS = {**ELEMENTWISE, **SCANS, **LINALG}


# -- compositions (public functions that are not primitives) ------------------------------------
def _f(fun, *makes):
    return lambda rng: (fun, [m(rng) for m in makes])


def _with_zero(rng):
    x = rng.uniform(0.5, 1.5, (3, 4))
    x[1, 2] = 0.0
    return x


def _sort(rng):
    return (lambda x: nb.sort(x, axis=0) * np.arange(4.0)), [_distinct(rng, (3, 4))]


FUNCTION_SPECS = {
    "logaddexp_big": _f(nb.logaddexp, lambda rng: 1e4 * rng.standard_normal((3, 4)),
                        lambda rng: 1e4 * rng.standard_normal((4,))),
    "deg2rad": _f(nb.deg2rad, _normal(3)),
    "rad2deg": _f(nb.rad2deg, _normal(3)),
    "cumprod": _f(lambda x: nb.cumprod(x, axis=1), _with_zero),
    "cumprod_flat": _f(nb.cumprod, _normal(5)),
    "var": _f(lambda x: nb.var(x, axis=0, ddof=1) + nb.var(x), _normal(3, 4)),
    "std": _f(lambda x: nb.std(x, axis=1, keepdims=True), _normal(3, 4)),
    "average": _f(lambda x, w: nb.average(x, axis=1, weights=w), _normal(3, 4),
                  _uniform(0.5, 1.5, 4)),
    "ptp": _f(lambda x: nb.ptp(x, axis=1), lambda rng: _distinct(rng, (3, 4))),
    "nansum": _f(lambda x: nb.nansum(nb.where(np.eye(3, 4) > 0, np.nan, x), axis=0),
                 _normal(3, 4)),
    "nanmean": _f(lambda x: nb.nanmean(nb.where(np.eye(3, 4) > 0, np.nan, x), axis=1),
                  _normal(3, 4)),
    "sort": _sort,
    "ravel": _f(lambda x: nb.ravel(x) * np.arange(6.0), _normal(2, 3)),
    "repeat": _f(lambda x: nb.repeat(x, [1, 3], axis=0) ** 2, _normal(2, 3)),
    "tile": _f(lambda x: nb.tile(x, (2, 1, 2)) ** 2, _normal(2, 3)),
    "roll": _f(lambda x: nb.roll(x, (1, -2), axis=(0, 1)) * np.arange(12.0).reshape(3, 4),
               _normal(3, 4)),
    "flip": _f(lambda x: nb.flip(x, 1) * np.arange(4.0), _normal(3, 4)),
    "rot90": _f(lambda x: nb.rot90(x, 3) * np.arange(3.0), _normal(3, 4)),
    "moveaxis": _f(lambda x: nb.moveaxis(x, 0, -1) ** 2, _normal(2, 3, 4)),
    "pad_reflect": _f(lambda x: nb.pad(x, ((2, 1), (1, 2)), mode="reflect") ** 2, _normal(3, 4)),
    "pad_wrap": _f(lambda x: nb.pad(x, 2, mode="wrap") ** 2, _normal(3, 4)),
    "split": _f(lambda x: nb.array_split(x, 3, axis=1)[2] ** 2, _normal(3, 4)),
    "stacks": _f(lambda a, b: nb.vstack([a, b]) ** 2 + nb.hstack([a, b]).sum()
                 + nb.dstack([a, b]).sum(), _normal(2, 3), _normal(2, 3)),
    "atleast_3d": _f(lambda x: nb.atleast_3d(x) ** 2, _normal(3)),
    "tril": _f(lambda x: nb.tril(x, -1) ** 2 + nb.triu(x, 1), _normal(2, 3, 3)),
    "trace": _f(lambda x: nb.trace(x, 1) ** 2, _normal(3, 4)),
    "diag": _f(lambda v: nb.diag(v, -1) ** 2 + nb.diag(nb.outer(v, v)).sum(), _normal(3)),
    "kron": _f(lambda a, b: nb.kron(a, b), _normal(2, 3), _normal(3, 2)),
    "inner": _f(nb.inner, _normal(2, 3), _normal(4, 3)),
    "cross": _f(nb.cross, _normal(4, 3), _normal(3)),
    "tensordot": _f(lambda a, b: nb.tensordot(a, b, axes=([0, 2], [1, 0])), _normal(2, 3, 4),
                    _normal(4, 2, 5)),
    "einsum_implicit": _f(lambda a, b: nb.einsum("ba,bc", a, b), _normal(3, 2), _normal(3, 4)),
    "einsum_trace_ellipsis": _f(lambda a: nb.einsum("...ii->...i", a) ** 2, _normal(2, 3, 3)),
    "norm_orders": _f(lambda x: nb.stack([nb.linalg.norm(x, o) for o in (1, -1, np.inf, -np.inf,
                                                                          "fro", "nuc", 2, -2)]),
                      lambda rng: _distinct(rng, (3, 4)) / 3),
    "vector_norms": _f(lambda x: nb.stack([nb.linalg.norm(x, o) for o in (1, 3, np.inf, 0.5)]),
                       lambda rng: _distinct(rng, (5,)) / 3),
    "lstsq": _f(lambda a, b: nb.linalg.lstsq(a, b)[0], _normal(5, 3), _normal(5, 2)),
    "matrix_power": _f(lambda a: nb.linalg.matrix_power(a, 3) + nb.linalg.matrix_power(a, -1),
                       lambda rng: _well_conditioned(rng, 3)),
    "cholesky_upper": _f(lambda a: nb.linalg.cholesky(a, upper=True),
                         lambda rng: _spd(rng, 3)),
    "svdvals": _f(nb.linalg.svdvals, _normal(2, 4, 3)),
    "eigvalsh": _f(nb.linalg.eigvalsh, lambda rng: _spd(rng, 3, (2,))),
}


# -- PyTorch twins: the same value from the same arguments ---------------------------------------
def _sym(t):
    return t + t.mT


TORCH_TWINS = {
    "sin": lambda torch: torch.sin, "cos": lambda torch: torch.cos,
    "tan": lambda torch: torch.tan, "arcsin": lambda torch: torch.arcsin,
    "arccos": lambda torch: torch.arccos, "arctan": lambda torch: torch.arctan,
    "arctan2": lambda torch: torch.atan2, "sinh": lambda torch: torch.sinh,
    "cosh": lambda torch: torch.cosh, "arcsinh": lambda torch: torch.arcsinh,
    "arccosh": lambda torch: torch.arccosh, "arctanh": lambda torch: torch.arctanh,
    "log2": lambda torch: torch.log2, "log10": lambda torch: torch.log10,
    "exp2": lambda torch: torch.exp2, "logaddexp": lambda torch: torch.logaddexp,
    "logaddexp2": lambda torch: torch.logaddexp2, "hypot": lambda torch: torch.hypot,
    "reciprocal": lambda torch: torch.reciprocal, "sinc": lambda torch: torch.sinc,
    "mod": lambda torch: torch.remainder, "fmod": lambda torch: torch.fmod,
    "prod": lambda torch: lambda x: torch.prod(x, 1) + torch.prod(
        torch.prod(x, 0, keepdim=True), 2, keepdim=True).sum(),
    "cumsum": lambda torch: lambda x: torch.cumsum(x, 1) ** 2 + torch.cumsum(x.ravel(), 0).sum(),
    "cumprod": lambda torch: lambda x: torch.cumprod(x, 1),
    "var": lambda torch: lambda x: torch.var(x, 0) + torch.var(x, correction=0),
    "std": lambda torch: lambda x: torch.std(x, 1, correction=0, keepdim=True),
    "sort": lambda torch: lambda x: torch.sort(x, 0).values * torch.arange(4.0, dtype=x.dtype),
    "kron": lambda torch: torch.kron,
    "inner": lambda torch: torch.inner,
    "cross": lambda torch: lambda a, b: torch.linalg.cross(a, b.expand_as(a)),
    "tensordot": lambda torch: lambda a, b: torch.tensordot(a, b, dims=([0, 2], [1, 0])),
    "inv": lambda torch: torch.linalg.inv,
    "solve": lambda torch: torch.linalg.solve,
    "solve_triangular": lambda torch: lambda a, b: torch.linalg.solve_triangular(
        a.tril(), b, upper=False),
    "det": lambda torch: torch.linalg.det,
    "slogdet": lambda torch: lambda a: torch.linalg.slogdet(a).logabsdet,
    "pinv": lambda torch: torch.linalg.pinv,
    "svdvals": lambda torch: torch.linalg.svdvals,
    "matrix_power": lambda torch: lambda a: torch.linalg.matrix_power(a, 3)
    + torch.linalg.matrix_power(a, -1),
    "lstsq": lambda torch: lambda a, b: torch.linalg.pinv(a) @ b,
    "norm2": lambda torch: lambda x: torch.linalg.vector_norm(x, dim=1)
    + torch.linalg.vector_norm(x),
    "norm_orders": lambda torch: lambda x: torch.stack(
        [torch.linalg.matrix_norm(x, o) for o in (1, -1, float("inf"), float("-inf"), "fro",
                                                  "nuc", 2, -2)]),
    "vector_norms": lambda torch: lambda x: torch.stack(
        [torch.linalg.vector_norm(x, o) for o in (1, 3, float("inf"), 0.5)]),
    "einsum_implicit": lambda torch: lambda a, b: torch.einsum("ba,bc", a, b),
    "einsum_trace_ellipsis": lambda torch: lambda a: torch.einsum("...ii->...i", a) ** 2,
    "trace": lambda torch: lambda x: torch.trace(x[:, 1:]) ** 2,
    "tril": lambda torch: lambda x: torch.tril(x, -1) ** 2 + torch.triu(x, 1),
    "roll": lambda torch: lambda x: torch.roll(x, (1, -2), (0, 1))
    * torch.arange(12.0, dtype=x.dtype).reshape(3, 4),
    "rot90": lambda torch: lambda x: torch.rot90(x, 3) * torch.arange(3.0, dtype=x.dtype),
    "tile": lambda torch: lambda x: torch.tile(x, (2, 1, 2)) ** 2,
    "pad_reflect": lambda torch: lambda x: torch.nn.functional.pad(
        x[None], (1, 2, 2, 1), mode="reflect")[0] ** 2,
    "nan_to_num": lambda torch: lambda x: torch.nan_to_num(
        torch.where(torch.tensor(_INF_AT), torch.inf, x), posinf=2.0) * x,
    "logaddexp_big": lambda torch: torch.logaddexp,
}

#: Symmetric-input twins: nablanet and PyTorch agree on f(X + X^T) (NumPy reads a triangle).
SYMMETRIC_TWINS = {
    "cholesky": (lambda a: nb.linalg.cholesky(a + nb.swapaxes(a, -1, -2)),
                 lambda torch: lambda a: torch.linalg.cholesky(_sym(a))),
    "eigvalsh": (lambda a: nb.linalg.eigvalsh(a + nb.swapaxes(a, -1, -2)),
                 lambda torch: lambda a: torch.linalg.eigvalsh(_sym(a))),
}


# -- not differentiated ------------------------------------------------------------------------
def _nd(fun):
    return lambda rng: (fun, [rng.standard_normal((3, 4))])


NON_DIFFERENTIABLE = {
    "floor": _nd(nb.floor), "ceil": _nd(nb.ceil), "trunc": _nd(nb.trunc), "rint": _nd(nb.rint),
    "round": _nd(lambda x: nb.round(x, 1)),
    "isfinite": _nd(nb.isfinite), "isnan": _nd(nb.isnan), "isinf": _nd(nb.isinf),
    "abs_below": _nd(lambda x: E._small(x, 0.5)),
    "same_infinity": _nd(lambda x: E._same_infinity(x, np.inf * x)),
    "floor_quotient": _nd(lambda x: E._floor_q(x, 0.7)),
    "trunc_quotient": _nd(lambda x: E._trunc_q(x, 0.7)),
    # each as a function of one (3, 4) array with a (3, 4) result
    "argmax": _nd(lambda x: nb.argmax(nb.stack([x, -x], axis=-1), axis=-1)),
    "argmin": _nd(lambda x: nb.argmin(nb.stack([x, -x], axis=-1), axis=-1)),
    "argsort": _nd(lambda x: nb.argsort(x, axis=1)),
    "any": _nd(lambda x: nb.any(nb.stack([x > 0, x > 1], axis=-1), axis=-1)),
    "all": _nd(lambda x: nb.all(nb.stack([x > 0, x > -1], axis=-1), axis=-1)),
    "count_nonzero": _nd(lambda x: S.count_nonzero(nb.stack([x > 0, x > 1], axis=-1), axis=-1)),
    "spectral_gap_mask": _nd(lambda x: LD._gap_mask(x[0], name="eigh")[:3]),
}
