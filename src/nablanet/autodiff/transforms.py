"""Function transforms in the JAX style: grad, value_and_grad, vjp, jacobian, hessian, hvp.

Each transform takes a function and returns a function.  Arguments and results are
pytrees (:mod:`nablanet.autodiff.pytree`): nested tuples, lists and dicts of arrays or
Tensors, and the results mirror them as JAX's do (``grad`` of a parameter dict is a
dict; ``jacobian`` of a tuple output is a tuple of Jacobians).  Inputs are wrapped in
fresh tensors, so nested transforms never confuse their variables; when an input is
itself being traced by an outer transform the inner one records its backward pass
(``create_graph``), which is how ``hessian = jacobian(grad(f))`` works.

Several outputs (or a gradient of several leaves, in ``hvp``) are joined into one
flat root for the backward pass, so one pass serves them all; a single array output
is its own root, as before pytrees.
"""

from __future__ import annotations

import functools

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff._traced import (
    _LEAF,
    _as_input_dtypes,
    _check_scalar,
    _gradients,
    _join,
    _join_cotangents,
    _normalize_argnums,
    _output,
    _pull,
    _trace,
    _zeros_like_cotangent,
)
from nablanet.autodiff.pytree import tree_flatten, tree_unflatten
from nablanet.autodiff.replayed_transforms import Replayer
from nablanet.autodiff.tensor import Tensor, shape_of

#: At most this many rows of the identity pushed through one backward pass by jacobian.
_JACOBIAN_CHUNK = 4096
#: Fewer rows per pass when the batched cotangent of the graph's widest tensor would
#: exceed this many bytes: the backward pass is bound by memory traffic, and cotangents
#: that stay in cache (and temporaries that malloc reuses) beat one pass over all rows.
_CHUNK_BYTES = 2 ** 22
#: ... but never fewer rows than this (unless ``_JACOBIAN_CHUNK`` is smaller): past the
#: cache sizes, more rows per pass only spread the per-pass Python cost thinner.
_MIN_ROWS = 8

# -- gradients -------------------------------------------------------------------------
def value_and_grad(fun, argnums=0, has_aux=False, replay=False):
    """Return a function computing ``fun`` and its gradient.

    Parameters
    ----------
    fun : callable
        Function of pytrees of arrays returning a real scalar (a one-element array or
        Tensor), or ``(scalar, aux)`` with ``has_aux=True``.
    argnums : int or tuple of int, default 0
        Which positional arguments to differentiate.
    has_aux : bool, default False
        ``fun`` returns a pair whose second element is auxiliary data, returned as it
        came (as values, not differentiated), as in JAX.
    replay : bool, default False
        Replay the recorded graph on later calls (see :func:`jacobian`); calls with
        pytree arguments or ``has_aux=True`` run eagerly.

    Returns
    -------
    callable
        ``(*args) -> (value, gradient)``, or ``((value, aux), gradient)`` with has_aux;
        the gradient has the structure and shapes of the argument (a tuple of them when
        ``argnums`` is a tuple): a dict of arrays for a dict of parameters.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> value, g = nb.value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    >>> float(value), g
    (5.0, array([2., 4.]))
    >>> nb.grad(lambda p: nb.sum(p["w"] * p["b"]))({"w": np.ones(2), "b": 3.0})
    {'b': array(2.), 'w': array([3., 3.])}
    """

    replayer = Replayer(fun) if replay and not has_aux else None

    @functools.wraps(fun)
    def wrapped(*args):
        single, nums = _normalize_argnums(argnums, len(args))
        key = None
        if replayer is not None:
            program, key, values = replayer.lookup(args, nums)
            if program is not None:
                seed = np.ones(program.root_shape, dtype=program.root_dtype)
                replayed = replayer.run(program, values, [seed])
                if replayed is not None:
                    value, (cots,) = replayed
                    grads = [cot if cot is not None else _zeros_like_cotangent((), var)
                             for cot, var in zip(cots, program.variables, strict=True)]
                    return value, (grads[0] if single else tuple(grads))
        with Replayer.record(key) as recorder:
            traced = _trace(fun, args, nums, single, has_aux)
        _check_scalar(traced)
        out, nested = traced.root, traced.nested
        if replayer is not None:
            replayer.add(key, recorder, args, traced.inputs, nums, out)
        seed = np.ones(out.shape, dtype=out.dtype)
        grads = _output(_pull(out, traced.inputs, seed, nested), nested)
        value = out if nested else out.data
        if has_aux:
            value = (value, traced.aux)
        return value, _gradients(traced, _as_input_dtypes(grads, traced.inputs))

    wrapped.__nablanet_transform__ = ("value_and_grad", fun, argnums, has_aux)
    return wrapped


def grad(fun, argnums=0, has_aux=False):
    """Return a function computing the gradient of real scalar-valued ``fun``.

    Parameters
    ----------
    fun : callable
        Function of pytrees of arrays returning a real scalar (or ``(scalar, aux)``).
    argnums : int or tuple of int, default 0
        Which positional arguments to differentiate (each at most once).
    has_aux : bool, default False
        See :func:`value_and_grad`; the result is then ``(gradient, aux)``.

    Returns
    -------
    callable
        ``(*args) -> gradient`` with the argument's structure and shapes (a tuple of them
        for tuple argnums).

    Raises
    ------
    TypeError
        For a non-scalar, complex or pytree output, and for integer inputs.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.grad(lambda x: nb.sum(nb.exp(x)))(np.zeros(3))
    array([1., 1., 1.])
    """
    both = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def wrapped(*args):
        value, g = both(*args)
        return (g, value[1]) if has_aux else g

    wrapped.__nablanet_transform__ = ("grad", fun, argnums, has_aux)
    return wrapped


# -- vector-Jacobian products ----------------------------------------------------------
def vjp(fun, *primals, has_aux=False):
    """Evaluate ``fun(*primals)`` and return it with its vector-Jacobian product function.

    Parameters
    ----------
    fun : callable
        Function of pytrees of arrays returning a pytree of arrays.
    *primals : pytrees
        The point; every argument is differentiated.
    has_aux : bool, default False
        ``fun`` returns ``(output, aux)``; ``aux`` is returned third.

    Returns
    -------
    out : pytree of ndarray
    pullback : callable
        ``pullback(cotangent) -> tuple`` of cotangents, one per primal in its structure.
        The cotangent has the structure of ``out``; its leaves may all carry the same
        extra leading (batch) axes, which are kept.
    aux : pytree, only with ``has_aux=True``

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> out, pullback = nb.vjp(lambda x: 2 * x, np.ones(2))
    >>> pullback(np.array([1.0, 3.0]))
    (array([2., 6.]),)
    """
    if not primals:
        raise TypeError("vjp(f, *primals) needs at least one primal: the point to evaluate f at")
    nums = tuple(range(len(primals)))
    traced = _trace(fun, primals, nums, False, has_aux)

    def pullback(cotangent):
        record = traced.nested or mode.inside_trace()
        cot, batch = _root_cotangent(traced, cotangent, record)
        values = _output(_pull(traced.root, traced.inputs, cot, record, batch), record)
        return _gradients(traced, _as_input_dtypes(values, traced.inputs))

    out = traced.outs if traced.nested else [o.data for o in traced.outs]
    out = tree_unflatten(traced.out_def, out)
    return (out, pullback, traced.aux) if has_aux else (out, pullback)


def _root_cotangent(traced, cotangent, record):
    """A pytree cotangent of the outputs as one cotangent of the root, and its batch shape."""
    leaves, treedef = tree_flatten(cotangent)
    if treedef != traced.out_def:
        raise ValueError(
            f"vjp: the cotangent has structure {treedef}, expected the output's "
            f"{traced.out_def}"
        )
    cots, batch = [], None
    for cot, out in zip(leaves, traced.outs, strict=True):
        if not isinstance(cot, Tensor):
            cot = np.asarray(cot)
        elif not record:
            cot = cot.data
        shape = tuple(shape_of(cot))
        lead = shape[: len(shape) - out.ndim]
        if len(shape) < out.ndim or shape[len(lead):] != out.shape or (
                batch is not None and lead != batch):
            expected = out.shape if batch is None else batch + out.shape
            raise ValueError(
                f"vjp: cotangent has shape {shape}, expected {expected} "
                f"(optionally with leading batch axes, the same for every output)"
            )
        batch = lead
        cots.append(cot)
    return _join_cotangents(cots, batch or (), record), batch or ()


# -- Jacobians -------------------------------------------------------------------------
def jacobian(fun, argnums=0, has_aux=False, replay=False):
    """Return a function computing the Jacobian of ``fun`` by reverse mode (``jacrev``).

    Rows are pushed through the backward pass as a batch of cotangents, not one
    pass per output element: as many rows per pass as keep the batched cotangent
    of the graph's widest tensor within 4 MiB (8 to 4096 rows).  Several outputs are
    joined into one root, so one set of passes serves them all.

    Parameters
    ----------
    fun : callable
        Function of pytrees of arrays returning a pytree of arrays.
    argnums : int or tuple of int, default 0
    has_aux : bool, default False
        ``fun`` returns ``(output, aux)``; the result is then ``(J, aux)``.
    replay : bool, default False
        Record the graph on the first two calls per input shapes (and constant
        arguments) and replay it afterwards, with the same values and less Python
        per call; see :mod:`nablanet.autodiff.replayed_transforms` for what a
        replay does not see again.  Pytree arguments or outputs run eagerly.

    Returns
    -------
    callable
        ``(*args) -> J``: for each output leaf, the structure of the differentiated
        arguments holding arrays of shape ``out.shape + arg.shape`` (JAX's layout); for
        f: R^n -> R^m that is the m x n matrix, and a tuple output gives a tuple of them.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> nb.jacobian(lambda x: W @ x)(np.ones(2))
    array([[1., 2.],
           [3., 4.],
           [5., 6.]])
    """
    replayer = Replayer(fun) if replay and not has_aux else None

    @functools.wraps(fun)
    def wrapped(*args):
        single, nums = _normalize_argnums(argnums, len(args))
        key = None
        if replayer is not None:
            program, key, values = replayer.lookup(args, nums)
            if program is not None:
                result = _replayed_jacobian(replayer, program, values)
                if result is not None:
                    return result
        with Replayer.record(key) as recorder:
            traced = _trace(fun, args, nums, single, has_aux)
        out = traced.root
        rows = _rows_per_pass(out, traced.inputs)
        layout = traced.layout()
        if replayer is not None:  # a pytree output replays too: its joined root is recorded
            replayer.add(key, recorder, args, traced.inputs, nums, out, rows=rows, layout=layout)
        blocks = [[] for _ in traced.inputs]
        for seed in _identity_rows(out.shape, out.dtype, rows):
            cots = _pull(out, traced.inputs, seed, traced.nested, seed.shape[:1])
            for block, cot in zip(blocks, cots, strict=True):
                block.append(cot)
        jac = _assemble(layout, blocks, traced.inputs, out.size, out.dtype)
        return (jac, traced.aux) if has_aux else jac

    wrapped.__nablanet_transform__ = ("jacobian", fun, argnums, has_aux)
    return wrapped


jacrev = jacobian


def _identity_rows(shape, dtype, rows):
    """The rows of the identity on ``shape``, ``rows`` at a time, as batched cotangents."""
    m = int(np.prod(shape, dtype=np.int64))
    for start in range(0, m, rows):
        stop = min(m, start + rows)
        seed = np.zeros((stop - start, m), dtype=dtype)
        seed[np.arange(stop - start), np.arange(start, stop)] = 1
        yield seed.reshape((stop - start,) + tuple(shape))


def _stack_rows(block, var, m, dtype):
    """The chunks of one variable's Jacobian rows as one ``(m,) + var.shape`` array."""
    if len(block) == 1:
        return block[0]
    if not block:  # an empty output: no rows
        return np.zeros((0,) + var.shape, dtype=np.result_type(dtype, var.dtype))
    from nablanet.ops.shape import concatenate

    return concatenate(*block, axis=0)


def _assemble(layout, blocks, variables, m, dtype):
    """Per variable the stacked rows, cut per output leaf and laid out as JAX does."""
    per_input = [layout.split_rows(_stack_rows(block, var, m, dtype), var)
                 for var, block in zip(variables, blocks, strict=True)]
    return layout.arrange(per_input)


def _replayed_jacobian(replayer, program, values):
    seeds = list(_identity_rows(program.root_shape, program.root_dtype, program.extra["rows"]))
    replayed = replayer.run(program, values, seeds)
    if replayed is None:
        return None
    per_seed = replayed[1]
    variables = program.variables
    blocks = [[] for _ in variables]
    for seed, cots in zip(seeds, per_seed, strict=True):
        for block, var, cot in zip(blocks, variables, cots, strict=True):
            block.append(cot if cot is not None else _zeros_like_cotangent(seed.shape[:1], var))
    m = int(np.prod(program.root_shape, dtype=np.int64))
    return _assemble(program.extra["layout"], blocks, variables, m, program.root_dtype)


def _rows_per_pass(out, inputs):
    """Cotangent rows per backward pass: ``_CHUNK_BYTES`` over the widest tensor's bytes."""
    widest = max([out.data.nbytes] + [var.data.nbytes for var in inputs])
    stack, seen = [out], {id(out)}
    while stack:
        node = stack.pop()
        for arg in node._args or ():
            if isinstance(arg, Tensor) and arg._prim is not None and id(arg) not in seen:
                seen.add(id(arg))
                widest = max(widest, arg.data.nbytes)
                stack.append(arg)
    return min(_JACOBIAN_CHUNK, max(_MIN_ROWS, _CHUNK_BYTES // max(widest, 1)))


# -- second derivatives ----------------------------------------------------------------
def hessian(fun, argnums=0, has_aux=False, replay=False):
    """Return a function computing the Hessian of real scalar-valued ``fun``.

    It is ``jacobian(grad(fun))``: the gradient's backward pass is recorded and then
    differentiated once more with a batch of cotangents (reverse over reverse, which
    measured faster than ``jacfwd(grad(fun))`` on an MLP loss: see the transforms guide).

    Parameters
    ----------
    fun : callable
    argnums : int or tuple of int, default 0
    has_aux : bool, default False
        ``fun`` returns ``(scalar, aux)``; the result is then ``(H, aux)``.
    replay : bool, default False
        Replay the recorded gradient graph on later calls (see :func:`jacobian`).

    Returns
    -------
    callable
        ``(*args) -> H`` with shape ``arg.shape + arg.shape`` (n x n for a vector); for
        tuple argnums the nested tuple of blocks ``H[i][j]`` of shape
        ``arg_i.shape + arg_j.shape``, and for a dict argument a dict of dicts.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacobian(grad(fun, argnums, has_aux), argnums, has_aux, replay=replay)


def hvp(fun, argnums=0, replay=False):
    """Return ``(*args, v) -> H v`` for real scalar-valued ``fun``, without forming H.

    Two backward passes: the gradient's backward pass is recorded, and ``v`` is
    pushed back through it as the gradient's cotangent (``v^T H = (H v)^T``, H
    being symmetric), with no extra dot product recorded.

    Parameters
    ----------
    fun : callable
    argnums : int or tuple of int, default 0
    replay : bool, default False
        Replay the recorded gradient graph on later calls (see :func:`jacobian`); pytree
        arguments and tuple argnums run eagerly.

    Returns
    -------
    callable
        ``(*args, v) -> H v``; ``v`` has the structure of the differentiated argument (a
        tuple of them for tuple argnums), each leaf broadcast to its argument's shape,
        and so does the result.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> f = lambda x: (x ** 3).sum()
    >>> nb.hvp(f)(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    replayer = Replayer(fun) if replay else None

    @functools.wraps(fun)
    def wrapped(*args):
        *args, v = args
        if len(args) == 0:
            raise TypeError("hvp(f)(x, v) needs the point x and the direction v")
        single, nums = _normalize_argnums(argnums, len(args))
        key = None
        if replayer is not None and single:
            program, key, values = replayer.lookup(args, nums)
            if program is not None:
                (var,) = program.variables
                replayed = replayer.run(program, values, [_direction(v, var, False)])
                if replayed is not None:
                    (cot,) = replayed[1][0]
                    return cot if cot is not None else _zeros_like_cotangent((), var)
        with Replayer.record(key) as recorder:
            traced = _trace(fun, args, nums, single)
            _check_scalar(traced, "hvp")
            out = traced.root
            grads = _pull(out, traced.inputs, np.ones(out.shape, dtype=out.dtype), True)
        if replayer is not None and single:  # (pytree arguments have no key: eager)
            replayer.add(key, recorder, args, traced.inputs, nums, grads[0])
        return _gradients(traced, _push_direction(traced, grads, v))

    wrapped.__nablanet_transform__ = ("hvp", fun, argnums, False)
    return wrapped


def _push_direction(traced, grads, v):
    """``H v`` per leaf: ``v`` pushed back through the recorded gradient as its cotangent."""
    nested, inputs = traced.nested, traced.inputs
    leaves, treedef = ([v], _LEAF) if traced.in_def is _LEAF else tree_flatten(v)
    if treedef != traced.in_def:
        raise ValueError(
            f"hvp: direction v has structure {treedef}, expected the argument's "
            f"{traced.in_def}"
        )
    directions = [_direction(d, var, nested) for d, var in zip(leaves, inputs, strict=True)]
    live = [i for i, g in enumerate(grads) if isinstance(g, Tensor) and g.requires_grad]
    if not live:
        # the gradient does not depend on x: f is affine in it, H = 0
        return _output([_zeros_like_cotangent((), var) for var in inputs], nested)
    root = _join([grads[i] for i in live])
    cot = _join_cotangents([directions[i] for i in live], (), nested)
    return _output(_pull(root, inputs, cot, nested), nested)


def _direction(v, var, nested):
    """``v`` as a cotangent for the gradient of ``var``: float, broadcast to its shape."""
    if isinstance(v, Tensor):
        if nested and v.requires_grad:
            if v.shape != var.shape:
                from nablanet.ops.shape import broadcast_to

                v = broadcast_to(v, var.shape)
            return v
        v = v.data
    v = np.asarray(v)
    if v.dtype.kind not in "fc":
        v = v.astype(var.dtype)
    try:
        return v if v.shape == var.shape else np.broadcast_to(v, var.shape)
    except ValueError:
        raise ValueError(
            f"hvp: direction v has shape {v.shape}, expected {var.shape} (the shape of x)"
        ) from None
