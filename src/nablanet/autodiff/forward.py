"""Forward mode: jvp, linearize and jacfwd, by transposing the reverse mode.

No primitive has a JVP rule.  For a function f at x, the VJP ``u -> J^T u`` is linear in
the cotangent u, and it is computed with nablanet's own operations; recorded once as a
graph in a dummy u (a backward pass with ``create_graph=True``), its own VJP, applied to
a tangent t, is ``(J^T)^T t = J t``.  So every primitive that has a VJP, including any
added later, has forward mode, at every order, with no second rule to keep right.  The
cost is one recorded backward pass per linearization (shared by all the tangents pushed
through it, as in :func:`linearize` and :func:`jacfwd`) and one first-order backward pass
over that recording per batch of tangents.
"""

from __future__ import annotations

import functools

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff._traced import (
    _join,
    _join_cotangents,
    _normalize_argnums,
    _output,
    _pull,
    _reshape,
    _trace,
)
from nablanet.autodiff.engine import backprop
from nablanet.autodiff.pytree import tree_flatten, tree_unflatten
from nablanet.autodiff.tensor import Tensor, shape_of
from nablanet.autodiff.transforms import _identity_rows, _rows_per_pass

__all__ = ["jacfwd", "jvp", "linearize"]


class _Linearization:
    """``fun`` traced at a point, with its VJP recorded as a linear function of a dummy u.

    ``push(tangents, batch)`` returns J t for the tangent leaves (one per variable, each
    ``batch + var.shape``) as a cotangent of the root, ``batch + root.shape``.
    """

    def __init__(self, traced):
        self.traced = traced
        root = traced.root
        self.u, self.live, self.transposed = None, [], None
        if root.requires_grad:
            self.u = Tensor(np.zeros(root.shape, dtype=root.dtype), requires_grad=True)
            ws = backprop(root, self.u, traced.inputs, create_graph=True)
            self.live = [i for i, w in enumerate(ws) if isinstance(w, Tensor) and w.requires_grad]
            if self.live:
                with mode.enable_grad():
                    self.transposed = _join([ws[i] for i in self.live])

    def push(self, tangents, batch, record):
        """J t, as a cotangent of the root (arrays, or Tensors when ``record``)."""
        root = self.traced.root
        if self.transposed is None:  # no output depends on the inputs (or it is discrete)
            dtype = np.result_type(root.dtype, *[var.dtype for var in self.traced.inputs])
            return np.zeros(tuple(batch) + root.shape, dtype=dtype)
        cot = _join_cotangents([tangents[i] for i in self.live], batch, record)
        (pushed,) = _pull(self.transposed, [self.u], cot, record, batch)
        return pushed

    def outputs(self, pushed, batch):
        """The root's pushed tangent cut per output leaf and rebuilt in the output's structure."""
        traced = self.traced
        if len(traced.outs) == 1:
            leaves = [pushed]
        else:
            leaves, start, lead = [], 0, (slice(None),) * len(batch)
            for out in traced.outs:
                stop = start + out.size
                leaves.append(_reshape(pushed[lead + (slice(start, stop),)],
                                       tuple(batch) + out.shape))
                start = stop
        return tree_unflatten(traced.out_def, _output(leaves, _recording(traced)))


def _recording(traced):
    return traced.nested or mode.inside_trace()


def _tangent_leaves(traced, tangents, name):
    """The tangent leaves for the traced variables: structure and shapes checked, cast."""
    leaves, treedef = tree_flatten(tangents)
    if treedef != traced.in_def:
        raise ValueError(
            f"{name}: the tangents have structure {treedef}, expected the primals' "
            f"{traced.in_def}"
        )
    record = _recording(traced)
    result = []
    for position, (t, var) in enumerate(zip(leaves, traced.inputs, strict=True)):
        if isinstance(t, Tensor) and not (record and t.requires_grad):
            t = t.data
        elif not isinstance(t, Tensor):
            t = np.asarray(t)
        if tuple(shape_of(t)) != var.shape:
            raise ValueError(
                f"{name}: tangent {position} has shape {tuple(shape_of(t))}, expected "
                f"{var.shape} (the shape of its primal)"
            )
        if type(t) is np.ndarray and t.dtype != var.dtype:
            if t.dtype.kind not in "biufc":
                raise TypeError(f"{name}: tangent {position} has dtype {t.dtype}")
            t = t.astype(var.dtype)
        result.append(t)
    return result


def _linearize_primals(fun, primals, has_aux, name):
    if not isinstance(primals, (tuple, list)):
        raise TypeError(
            f"{name}: primals must be a tuple or list of the function's arguments, got "
            f"{type(primals).__name__}; write {name}(f, (x,), (t,)) for one argument"
        )
    if not primals:
        raise ValueError(f"{name}: no primals given; the function needs an argument")
    traced = _trace(fun, tuple(primals), tuple(range(len(primals))), False, has_aux)
    return _Linearization(traced)


def jvp(fun, primals, tangents, has_aux=False):
    """Evaluate ``fun`` at ``primals`` and its Jacobian-vector product with ``tangents``.

    Parameters
    ----------
    fun : callable
        Function of pytrees of arrays returning a pytree of arrays.
    primals : tuple or list
        The arguments of ``fun`` (pytrees).
    tangents : tuple or list
        One tangent per primal, of the same structure and shapes.
    has_aux : bool, default False
        ``fun`` returns ``(output, aux)``; ``aux`` is returned third.

    Returns
    -------
    out : pytree of ndarray
        ``fun(*primals)``.
    tangent_out : pytree of ndarray
        ``J t``, in the structure of ``out``.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> out, t = nb.jvp(lambda x: x ** 3, (np.array([1.0, 2.0]),), (np.array([1.0, 0.5]),))
    >>> t
    array([3., 6.])
    """
    lin = _linearize_primals(fun, primals, has_aux, "jvp")
    if not isinstance(tangents, (tuple, list)):
        raise TypeError(f"jvp: tangents must be a tuple or list, got {type(tangents).__name__}")
    result = _primal_out(lin), _apply(lin, tuple(tangents), "jvp")
    return result + (lin.traced.aux,) if has_aux else result


def _primal_out(lin):
    traced = lin.traced
    return tree_unflatten(traced.out_def, _output(traced.outs, _recording(traced)))


def _apply(lin, tangents, name):
    leaves = _tangent_leaves(lin.traced, tangents, name)
    return lin.outputs(lin.push(leaves, (), _recording(lin.traced)), ())


def linearize(fun, *primals, has_aux=False):
    """Evaluate ``fun`` at ``primals`` and return its linear map ``t -> J t`` there.

    The function and its VJP are recorded once; each call of the returned ``f_jvp``
    is one first-order backward pass over that recording.

    Returns
    -------
    out : pytree of ndarray
    f_jvp : callable
        ``f_jvp(*tangents) -> J t``, one tangent per primal.
    aux : pytree, only with ``has_aux=True``

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> out, f_jvp = nb.linearize(nb.exp, np.zeros(2))
    >>> f_jvp(np.array([1.0, 2.0]))
    array([1., 2.])
    """
    lin = _linearize_primals(fun, primals, has_aux, "linearize")

    def f_jvp(*tangents):
        return _apply(lin, tangents, "linearize")

    result = _primal_out(lin), f_jvp
    return result + (lin.traced.aux,) if has_aux else result


def jacfwd(fun, argnums=0, has_aux=False):
    """Return a function computing the Jacobian of ``fun`` by forward mode.

    The rows of the identity on the inputs are pushed as batches of tangents through
    one linearization (sized as :func:`jacobian` sizes its batches); the result has
    :func:`jacobian`'s layout and values.  Forward mode pays when there are fewer
    inputs than outputs.

    Parameters
    ----------
    fun : callable
    argnums : int or tuple of int, default 0
    has_aux : bool, default False
        ``fun`` returns ``(output, aux)``; the result is then ``(J, aux)``.

    Returns
    -------
    callable
        ``(*args) -> J`` with leaves of shape ``out.shape + arg.shape``.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.jacfwd(lambda x: nb.stack([x[0] * x[1], x[0]]))(np.array([2.0, 3.0]))
    array([[3., 2.],
           [1., 0.]])
    """

    @functools.wraps(fun)
    def wrapped(*args):
        single, nums = _normalize_argnums(argnums, len(args))
        lin = _Linearization(_trace(fun, args, nums, single, has_aux))
        jac = _forward_jacobian(lin)
        return (jac, lin.traced.aux) if has_aux else jac

    return wrapped


def _forward_jacobian(lin):
    traced, record = lin.traced, _recording(lin.traced)
    inputs, root = traced.inputs, traced.root
    sizes = [var.size for var in inputs]
    n = sum(sizes)
    dtype = np.result_type(*[var.dtype for var in inputs])
    rows = _rows_per_pass(lin.transposed, [lin.u]) if lin.transposed is not None else n
    chunks = []
    for seed in _identity_rows((n,), dtype, max(rows, 1)):
        batch = seed.shape[:1]
        tangents, start = [], 0
        for var, size in zip(inputs, sizes, strict=True):
            tangents.append(seed[:, start:start + size].reshape(batch + var.shape))
            start += size
        chunks.append(lin.push(tangents, batch, record))
    pushed = _rows(chunks, n, root)  # (n,) + root.shape: row j is J e_j
    m = root.size
    layout, per_input, start = traced.layout(), [], 0
    for var, size in zip(inputs, sizes, strict=True):
        block = _transpose(_reshape(pushed[start:start + size], (size, m)))
        per_input.append(layout.split_rows(block, var))
        start += size
    return layout.arrange(_output_blocks(per_input, record))


def _rows(chunks, n, root):
    if not chunks:
        return np.zeros((n,) + root.shape, dtype=root.dtype)
    if len(chunks) == 1:
        return chunks[0]
    if any(isinstance(c, Tensor) for c in chunks):
        from nablanet.ops.shape import concatenate

        return concatenate(*chunks, axis=0)
    return np.concatenate(chunks, axis=0)


def _transpose(x):
    if isinstance(x, Tensor):
        from nablanet.ops.shape import transpose

        return transpose(x)
    return x.T


def _output_blocks(per_input, record):
    if record:
        return per_input
    blocks = [[np.asarray(b.data if isinstance(b, Tensor) else b) for b in column]
              for column in per_input]
    # the transposed blocks are laid out in C order, as jacobian's are
    return [[b if b.flags.c_contiguous else b.copy() for b in column] for column in blocks]
