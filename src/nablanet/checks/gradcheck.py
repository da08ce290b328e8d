"""Check derivatives against central finite differences, to any order.

For each differentiated argument a random direction ``v`` and a random output
cotangent ``u`` are drawn; the analytic ``<vjp_u(x), v>`` must equal the central
difference ``<u, f(x + eps v) - f(x - eps v)> / (2 eps)``.  Order 2 repeats the
check on the function ``x -> vjp_u(x)``, i.e. on the backward pass itself.
"""

from __future__ import annotations

import warnings

import numpy as np

from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.transforms import vjp


class GradientCheckError(AssertionError):
    """Raised when an analytic derivative disagrees with finite differences."""


def _as_float_array(x):
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _scalar_output(fun, args):
    out = fun(*args)
    return _as_float_array(out).astype(np.float64)


def check_grads(fun, args, order=2, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0, argnums=None):
    """Check reverse-mode derivatives of ``fun`` up to ``order`` by central differences.

    Parameters
    ----------
    fun : callable
        Function of arrays returning an array (any shape).
    args : sequence
        Arguments; differentiated ones must be floating point (float64 advised).
    order : int, default 2
        Highest derivative order to check (2 checks the backward pass's own VJP).
    eps : float
        Finite-difference step along a unit direction.
    rtol, atol : float
        Tolerance of ``|analytic - numeric| <= atol + rtol * |numeric|``.
    seed : int
        Seed of the random directions.
    argnums : iterable of int, optional
        Arguments to check; default: every floating-point array argument.

    Raises
    ------
    GradientCheckError
        Names the argument index, the order, and both values.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> from nablanet.checks import check_grads
    >>> check_grads(lambda x: nb.sum(nb.tanh(x) ** 2), [np.array([0.3, -1.2])], order=2)
    """
    args = [_as_float_array(a) if isinstance(a, Tensor) else a for a in args]
    if argnums is None:
        argnums = [
            i for i, a in enumerate(args)
            if isinstance(a, (np.ndarray, float)) and np.asarray(a).dtype.kind == "f"
        ]
    for i in argnums:
        if np.asarray(args[i]).dtype != np.float64:
            warnings.warn(
                f"check_grads: argument {i} is {np.asarray(args[i]).dtype}; finite differences "
                "are only reliable in float64",
                stacklevel=2,
            )
    rng = np.random.default_rng(seed)
    _check(fun, list(args), list(argnums), order, 1, eps, rtol, atol, rng)


def _check(fun, args, argnums, order, level, eps, rtol, atol, rng):
    out = _scalar_output(fun, args)
    u = rng.standard_normal(out.shape)
    for i in argnums:
        x = np.asarray(args[i], dtype=np.float64)
        v = rng.standard_normal(x.shape)
        v /= max(np.linalg.norm(v), 1e-300)

        def along(t, i=i, x=x, v=v):
            shifted = list(args)
            shifted[i] = x + t * v
            return _scalar_output(fun, shifted)

        numeric = float(np.sum(u * (along(eps) - along(-eps))) / (2 * eps))

        def pulled(xi, i=i):
            call = list(args)
            call[i] = xi
            return vjp(lambda z: fun(*call[:i], z, *call[i + 1:]), xi)[1](u)[0]

        analytic = float(np.sum(_as_float_array(pulled(x)) * v))
        if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
            raise GradientCheckError(
                f"derivative mismatch for argument {i} at order {level}: analytic "
                f"{analytic:.12g}, numeric {numeric:.12g} (difference {analytic - numeric:.3g})"
            )
        if order > level:

            def backward_of(*call_args, i=i):
                call = list(call_args)
                return vjp(lambda z: fun(*call[:i], z, *call[i + 1:]), call[i])[1](u)[0]

            _check(backward_of, args, [i], order, level + 1, eps, rtol, atol, rng)
