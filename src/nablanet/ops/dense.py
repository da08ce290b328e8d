"""The affine layer ``y = x W^T + b`` as one fused primitive (PyTorch's ``F.linear``).

One primitive instead of transpose, matmul and add keeps the engine's
per-operation overhead out of the hot loop of an MLP.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import shape_of
from nablanet.ops.linalg import matmul2
from nablanet.ops.reductions import sum as reduce_sum
from nablanet.ops.shape import swapaxes


def _linear_impl(x, weight, bias):
    out = x @ weight.T
    if bias is not None:
        out += bias
    return out


def _linear_rule(g, ans, needs, x, weight, bias):
    dx = dweight = dbias = None
    if needs[0]:
        # y = x W^T + b  =>  dL/dx = g W
        dx = matmul2(g, weight)
    if needs[1]:
        # dL/dW = g^T x (summed over the rows of the batch)
        dweight = matmul2(swapaxes(g, -1, -2), x)
    if needs[2]:
        # dL/db = sum_n g_n
        dbias = reduce_sum(g, axis=-2)
    return dx, dweight, dbias


def _linear_first_order(g, ans, needs, x, weight, bias):
    # the rule above on plain 2-D arrays: g W, g^T x and the column sums of g, called
    # straight on NumPy (three primitive dispatches fewer per layer)
    if g.ndim != 2 or type(x) is not np.ndarray:
        return None
    return (
        g @ weight if needs[0] else None,
        g.T @ x if needs[1] else None,
        np.add.reduce(g, axis=0) if needs[2] else None,
    )


_linear = Primitive("linear", _linear_impl)
_linear.defvjp_joint(_linear_rule, values=(0, 1, 2))
_linear.defvjp_inplace(_linear_first_order, needs_exclusive=False)


def linear(x, weight, bias=None):
    """Affine map ``x W^T + b`` of a batch of rows (PyTorch's layout: W is (out, in)).

    Parameters
    ----------
    x : Tensor or array_like, shape (N, in)
    weight : Tensor or array_like, shape (out, in)
    bias : Tensor or array_like, shape (out,), optional

    Returns
    -------
    Tensor or ndarray, shape (N, out)

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.ops.linear(np.ones((1, 2)), np.array([[1.0, 2.0]]), np.array([0.5]))
    array([[3.5]])
    """
    x_shape, w_shape = shape_of(x), shape_of(weight)
    if len(w_shape) != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {w_shape}")
    if len(x_shape) != 2 or x_shape[1] != w_shape[1]:
        raise ValueError(
            f"linear: expected input of shape (N, {w_shape[1]}), got shape {x_shape}"
        )
    if bias is not None and shape_of(bias) != (w_shape[0],):
        raise ValueError(
            f"linear: bias must have shape ({w_shape[0]},), got {tuple(shape_of(bias))}"
        )
    return _linear(x, weight, bias)


__all__ = ["linear"]
