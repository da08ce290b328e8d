"""Check derivatives against central finite differences, jointly in all arguments, to any order.

The differentiated arguments are seen as one flat vector ``theta``.  With a random output
cotangent ``u``, ``s_0(theta) = <u, f(theta)>``; each order ``k`` takes the gradient
``G_k = grad s_{k-1}`` (the VJP, then the VJP of the VJP, ...) and checks it along a random
direction ``v`` of *all* arguments at once::

    <G_k(theta), v>  ==  (s_{k-1}(theta + eps v) - s_{k-1}(theta - eps v)) / (2 eps)

then moves on with ``s_k = <w_k, G_k>`` for a random ``w_k``.  Because ``v`` and ``w_k``
mix every argument, order 2 checks the mixed partials d/dy (dL/dx) as well as each
argument's own (HIPS autograd's checker works the same way).  On a mismatch the check is
repeated along each argument alone to name the one whose derivative is wrong.
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


def check_grads(fun, args, order=2, eps=1e-6, rtol=1e-5, atol=1e-7, seed=0, argnums=None):
    """Check reverse-mode derivatives of ``fun`` up to ``order`` by central differences.

    Parameters
    ----------
    fun : callable
        Function of arrays returning an array (any shape).
    args : sequence
        Arguments; differentiated ones must be floating point (float64 advised).
    order : int, default 2
        Highest derivative order to check: 2 checks the VJP of the VJP, jointly in all
        differentiated arguments (mixed partials included).
    eps : float
        Finite-difference step along a unit direction.
    rtol, atol : float
        Tolerance of ``|analytic - numeric| <= atol + rtol * |numeric|``.
    seed : int
        Seed of the random directions and cotangents.
    argnums : iterable of int, optional
        Arguments to check; default: every floating-point array argument.

    Raises
    ------
    GradientCheckError
        Names the order, the argument along which the derivative is wrong, and both values.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> from nablanet.checks import check_grads
    >>> check_grads(lambda x, y: nb.sum(nb.tanh(x) * y), [np.array([0.3, -1.2]),
    ...                                                    np.array([2.0, 0.5])], order=2)
    """
    args = [_as_float_array(a) if isinstance(a, Tensor) else a for a in args]
    if argnums is None:
        argnums = [
            i for i, a in enumerate(args)
            if isinstance(a, (np.ndarray, float)) and np.asarray(a).dtype.kind == "f"
        ]
    argnums = list(argnums)
    for i in argnums:
        if np.asarray(args[i]).dtype != np.float64:
            warnings.warn(
                f"check_grads: argument {i} is {np.asarray(args[i]).dtype}; finite differences "
                "are only reliable in float64",
                stacklevel=2,
            )
    if not argnums:
        return
    rng = np.random.default_rng(seed)
    layout = _Layout(args, argnums)
    theta = layout.flatten(args)
    out_shape = np.shape(_as_float_array(fun(*args)))
    u = rng.standard_normal(out_shape)

    def scalar(t):
        return _inner(u, fun(*layout.unflatten(t)))

    for level in range(1, order + 1):
        gradient_of = _gradient(scalar)
        _check_level(scalar, gradient_of, theta, layout, level, eps, rtol, atol, rng)
        if level < order:
            w = rng.standard_normal(theta.shape)
            scalar = _contracted(gradient_of, w)


class _Layout:
    """Where each differentiated argument sits in the flat vector ``theta``."""

    def __init__(self, args, argnums):
        self.args = list(args)
        self.argnums = argnums
        self.shapes = [np.shape(args[i]) for i in argnums]
        sizes = [int(np.prod(s)) for s in self.shapes]
        self.bounds = np.cumsum([0] + sizes).tolist()

    def flatten(self, args):
        return np.concatenate(
            [np.asarray(args[i], dtype=np.float64).ravel() for i in self.argnums]
        )

    def unflatten(self, theta):
        from nablanet.ops import reshape, take

        call = list(self.args)
        for k, i in enumerate(self.argnums):
            piece = take(theta, slice(self.bounds[k], self.bounds[k + 1]))
            call[i] = reshape(piece, self.shapes[k])
        return call

    def only(self, v, k):
        """``v`` restricted to argument ``k``'s block (zero elsewhere)."""
        out = np.zeros_like(v)
        lo, hi = self.bounds[k], self.bounds[k + 1]
        out[lo:hi] = v[lo:hi]
        return out


def _inner(u, out):
    from nablanet.ops import multiply
    from nablanet.ops import sum as reduce_sum

    return reduce_sum(multiply(u, out))


def _gradient(scalar):
    """``theta -> grad scalar(theta)``, differentiable again (a VJP with cotangent 1)."""

    def gradient_of(theta):
        return vjp(scalar, theta)[1](np.float64(1.0))[0]

    return gradient_of


def _contracted(gradient_of, w):
    """``theta -> <w, gradient_of(theta)>``: the next order's scalar."""
    return lambda theta: _inner(w, gradient_of(theta))


def _directional(scalar, gradient_of, theta, v, eps):
    analytic = float(np.sum(_as_float_array(gradient_of(theta)) * v))
    plus = float(_as_float_array(scalar(theta + eps * v)))
    minus = float(_as_float_array(scalar(theta - eps * v)))
    return analytic, (plus - minus) / (2 * eps)


def _unit(v):
    return v / max(np.linalg.norm(v), 1e-300)


def _check_level(scalar, gradient_of, theta, layout, level, eps, rtol, atol, rng):
    v = _unit(rng.standard_normal(theta.shape))
    analytic, numeric = _directional(scalar, gradient_of, theta, v, eps)
    if abs(analytic - numeric) <= atol + rtol * abs(numeric):
        return
    # name the argument: the same check along each argument's block alone
    for k, i in enumerate(layout.argnums):
        vk = layout.only(v, k)
        if not np.any(vk):
            continue
        a_k, n_k = _directional(scalar, gradient_of, theta, _unit(vk), eps)
        if not abs(a_k - n_k) <= atol + rtol * abs(n_k):
            analytic, numeric, where = a_k, n_k, f"argument {i}"
            break
    else:
        where = f"arguments {layout.argnums} jointly"
    raise GradientCheckError(
        f"derivative mismatch for {where} at order {level}: analytic {analytic:.12g}, "
        f"numeric {numeric:.12g} (difference {analytic - numeric:.3g}); the directions of "
        f"orders below {level} mix all of arguments {layout.argnums}"
    )
