"""``nb.replay(transform)``: a transform's calls recorded twice, then replayed as flat code.

``nb.replay(nb.hessian(f))`` is ``nb.hessian(f, replay=True)`` written as a transform of
its own, as ``jax.jit(jax.hessian(f))``: the same values bit for bit, with less Python per
call at points of recorded shapes (see :mod:`nablanet.autodiff.replayed_transforms` for
what a replay keys on and what makes a call run eagerly instead: a value read into
Python, a module switched to ``eval()``, a tensor that changed).  It wraps the functions
nablanet's transforms return (``grad``, ``value_and_grad``, ``jacobian``, ``hessian``,
``hvp``); a transform nested inside a plain function is replayed by wrapping that
transform, not the function around it.
"""

from __future__ import annotations

import functools

from nablanet.autodiff import transforms

__all__ = ["replay"]


def replay(fun):
    """Return ``fun``, a nablanet transform, recorded on its first calls and then replayed.

    Parameters
    ----------
    fun : callable
        What ``nb.grad``, ``nb.value_and_grad``, ``nb.jacobian``, ``nb.hessian`` or
        ``nb.hvp`` returned (also with ``replay=True``, or already replayed).

    Returns
    -------
    callable
        The same function of the same arguments, bit-identical to ``fun``.

    Raises
    ------
    TypeError
        When ``fun`` is not one of those transforms: nothing would record its backward
        passes, so nothing could be replayed.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> f = lambda x: (x ** 3).sum()
    >>> h = nb.replay(nb.hessian(f))
    >>> [float(h(np.array([1.0, float(k)]))[1, 1]) for k in range(4)]
    [0.0, 6.0, 12.0, 18.0]
    """
    spec = getattr(fun, "__nablanet_transform__", None)
    if spec is None:
        raise TypeError(
            f"nb.replay wraps a nablanet transform (grad, value_and_grad, jacobian, "
            f"hessian, hvp), got {fun!r}: wrap the transform the function calls instead, "
            "e.g. nb.replay(nb.hessian(f))")
    kind, inner, argnums, has_aux = spec
    if kind == "value_and_grad":
        replayed = transforms.value_and_grad(inner, argnums, has_aux, replay=True)
    elif kind == "grad":
        replayed = _grad(transforms.value_and_grad(inner, argnums, has_aux, replay=True),
                         inner, has_aux)
    elif kind == "jacobian":  # hessian(f) is jacobian(grad(f))
        replayed = transforms.jacobian(inner, argnums, has_aux, replay=True)
    else:
        replayed = transforms.hvp(inner, argnums, replay=True)
    replayed.__nablanet_transform__ = spec
    return replayed


def _grad(both, inner, has_aux):
    @functools.wraps(inner)
    def wrapped(*args):
        value, g = both(*args)
        return (g, value[1]) if has_aux else g

    return wrapped
