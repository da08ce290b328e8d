"""Function transforms in the JAX style: grad, value_and_grad, vjp, jacobian, hessian, hvp.

Each transform takes a function of arrays (or Tensors) and returns a function.
Inputs are wrapped in fresh tensors, so nested transforms never confuse their
variables; when an input is itself being traced by an outer transform the
inner one records its backward pass (``create_graph``), which is how
``hessian = jacobian(grad(f))`` works.
"""

from __future__ import annotations

import functools

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.engine import backprop
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


def _normalize_argnums(argnums, nargs):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"argnums {argnums} out of range for a function of {nargs} arguments")
    return single, tuple(i % nargs for i in nums)


def _as_input(x, position):
    """A fresh tensor variable for ``x``; linked to ``x`` when an outer pass traces it."""
    from nablanet.ops.arithmetic import identity

    if isinstance(x, Tensor):
        if x.requires_grad and mode.is_grad_enabled():
            return identity(x), True
        data = x.data
    else:
        data = np.asarray(x)
    if data.dtype.kind not in "fc":
        raise TypeError(
            f"argument {position} has dtype {data.dtype}; differentiation needs floating-point "
            f"inputs. Pass floats (e.g. np.asarray(x, dtype=float))"
        )
    return Tensor(data, requires_grad=True), False


def _trace(fun, args, argnums):
    """Call ``fun`` with the differentiated arguments wrapped; return (out, inputs, nested)."""
    args = list(args)
    inputs = []
    nested = mode.inside_trace()
    for i in argnums:
        var, traced = _as_input(args[i], i)
        nested = nested or traced
        args[i] = var
        inputs.append(var)
    with mode.enable_grad(), mode.TracingScope():
        out = fun(*args)
    if not isinstance(out, Tensor):
        out = Tensor(np.asarray(out))
    return out, inputs, nested


def _zeros_like_cotangent(batch_shape, var):
    return np.zeros(tuple(batch_shape) + var.shape, dtype=var.dtype)


def _pull(out, inputs, cotangent, nested, batch_shape=()):
    """Cotangents of ``inputs`` for ``cotangent`` on ``out`` (arrays, or Tensors if nested)."""
    if not out.requires_grad:
        cots = [None] * len(inputs)
    else:
        cots = backprop(out, cotangent, inputs, create_graph=nested)
    result = []
    for var, cot in zip(inputs, cots, strict=True):
        if cot is None:
            cot = _zeros_like_cotangent(batch_shape, var)
        if not nested and isinstance(cot, Tensor):
            cot = cot.data
        result.append(cot)
    return result


def _output(values, nested):
    if nested:
        return values
    return [v.data if isinstance(v, Tensor) else v for v in values]


def _check_scalar(out):
    if out.size != 1:
        raise TypeError(
            f"grad requires a scalar output, got shape {out.shape}. Reduce the output to a "
            f"scalar (e.g. with .sum()), or use nablanet.jacobian or nablanet.vjp"
        )
    if out.dtype.kind not in "fc":
        raise TypeError(f"grad requires a floating-point output, got dtype {out.dtype}")


def value_and_grad(fun, argnums=0, replay=False):
    """Return a function computing ``fun`` and its gradient.

    Parameters
    ----------
    fun : callable
        Function of arrays returning a scalar (a one-element array or Tensor).
    argnums : int or tuple of int, default 0
        Which positional arguments to differentiate.
    replay : bool, default False
        Replay the recorded graph on later calls (see :func:`jacobian`).

    Returns
    -------
    callable
        ``(*args) -> (value, gradient)``; the gradient has the shape of the
        argument, or is a tuple when ``argnums`` is a tuple.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> value, g = nb.value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    >>> float(value), g
    (5.0, array([2., 4.]))
    """

    replayer = Replayer() if replay else None

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
            out, inputs, nested = _trace(fun, args, nums)
        _check_scalar(out)
        if replayer is not None:
            replayer.add(key, recorder, args, inputs, nums, out)
        seed = np.ones(out.shape, dtype=out.dtype)
        grads = _output(_pull(out, inputs, seed, nested), nested)
        value = out if nested else out.data
        return value, (grads[0] if single else tuple(grads))

    return wrapped


def grad(fun, argnums=0):
    """Return a function computing the gradient of scalar-valued ``fun``.

    Parameters
    ----------
    fun : callable
        Function of arrays returning a scalar.
    argnums : int or tuple of int, default 0
        Which positional arguments to differentiate.

    Returns
    -------
    callable
        ``(*args) -> gradient`` with the argument's shape (a tuple for tuple argnums).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.grad(lambda x: nb.sum(nb.exp(x)))(np.zeros(3))
    array([1., 1., 1.])
    """
    both = value_and_grad(fun, argnums)

    @functools.wraps(fun)
    def wrapped(*args):
        return both(*args)[1]

    return wrapped


def vjp(fun, *primals):
    """Evaluate ``fun(*primals)`` and return it with its vector-Jacobian product function.

    Returns
    -------
    out : ndarray
    pullback : callable
        ``pullback(cotangent) -> tuple`` of cotangents, one per primal.  The
        cotangent may have extra leading (batch) axes; they are kept.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> out, pullback = nb.vjp(lambda x: 2 * x, np.ones(2))
    >>> pullback(np.array([1.0, 3.0]))
    (array([2., 6.]),)
    """
    out, inputs, nested = _trace(fun, primals, tuple(range(len(primals))))

    def pullback(cotangent):
        record = nested or mode.inside_trace()
        if not isinstance(cotangent, Tensor):
            cotangent = np.asarray(cotangent)
        elif not record:
            cotangent = cotangent.data
        shape = shape_of(cotangent)
        batch = shape[: len(shape) - out.ndim]
        if len(shape) < out.ndim or tuple(shape[len(batch):]) != out.shape:
            raise ValueError(
                f"vjp: cotangent has shape {shape}, expected {out.shape} "
                f"(optionally with leading batch axes)"
            )
        return tuple(_output(_pull(out, inputs, cotangent, record, batch), record))

    return (out if nested else out.data), pullback


def jacobian(fun, argnums=0, replay=False):
    """Return a function computing the Jacobian of ``fun`` by reverse mode.

    Rows are pushed through the backward pass as a batch of cotangents, not one
    pass per output element: as many rows per pass as keep the batched cotangent
    of the graph's widest tensor within 4 MiB (8 to 4096 rows).

    Parameters
    ----------
    fun : callable
    argnums : int or tuple of int, default 0
    replay : bool, default False
        Record the graph on the first two calls per input shapes (and constant
        arguments) and replay it afterwards, with the same values and less Python
        per call; see :mod:`nablanet.autodiff.replayed_transforms` for what a
        replay does not see again.

    Returns
    -------
    callable
        ``(*args) -> J`` with shape ``out.shape + arg.shape`` (a tuple of such
        arrays for tuple argnums); for f: R^n -> R^m that is the m x n matrix.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> nb.jacobian(lambda x: W @ x)(np.ones(2))
    array([[1., 2.],
           [3., 4.],
           [5., 6.]])
    """
    replayer = Replayer() if replay else None

    @functools.wraps(fun)
    def wrapped(*args):
        single, nums = _normalize_argnums(argnums, len(args))
        key = None
        if replayer is not None:
            program, key, values = replayer.lookup(args, nums)
            if program is not None:
                result = _replayed_jacobian(replayer, program, values, single)
                if result is not None:
                    return result
        with Replayer.record(key) as recorder:
            out, inputs, nested = _trace(fun, args, nums)
        rows = _rows_per_pass(out, inputs)
        if replayer is not None:
            replayer.add(key, recorder, args, inputs, nums, out, rows=rows)
        blocks = [[] for _ in inputs]
        for seed in _identity_rows(out.shape, out.dtype, rows):
            cots = _pull(out, inputs, seed, nested, seed.shape[:1])
            for block, cot in zip(blocks, cots, strict=True):
                block.append(cot)
        return _assemble(blocks, out.shape, inputs, single)

    return wrapped


def _identity_rows(shape, dtype, rows):
    """The rows of the identity on ``shape``, ``rows`` at a time, as batched cotangents."""
    m = int(np.prod(shape, dtype=np.int64))
    for start in range(0, m, rows):
        stop = min(m, start + rows)
        seed = np.zeros((stop - start, m), dtype=dtype)
        seed[np.arange(stop - start), np.arange(start, stop)] = 1
        yield seed.reshape((stop - start,) + tuple(shape))


def _assemble(blocks, out_shape, inputs, single):
    from nablanet.ops.shape import concatenate, reshape

    result = []
    for var, block in zip(inputs, blocks, strict=True):
        full = block[0] if len(block) == 1 else concatenate(*block, axis=0)
        result.append(reshape(full, tuple(out_shape) + tuple(var.shape)))
    return result[0] if single else tuple(result)


def _replayed_jacobian(replayer, program, values, single):
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
    return _assemble(blocks, program.root_shape, variables, single)


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


def hessian(fun, argnums=0, replay=False):
    """Return a function computing the Hessian of scalar-valued ``fun``.

    It is ``jacobian(grad(fun))``: the gradient's backward pass is recorded and
    then differentiated once more with a batch of cotangents.

    Parameters
    ----------
    fun : callable
    argnums : int or tuple of int, default 0
    replay : bool, default False
        Replay the recorded gradient graph on later calls (see :func:`jacobian`).

    Returns
    -------
    callable
        ``(*args) -> H`` with shape ``arg.shape + arg.shape`` (n x n for a vector).

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> nb.hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacobian(grad(fun, argnums), argnums, replay=replay)


def hvp(fun, argnums=0, replay=False):
    """Return ``(x, v) -> H(x) v`` for scalar-valued ``fun``, without forming H.

    Two backward passes: the gradient's backward pass is recorded, and ``v`` is
    pushed back through it as the gradient's cotangent (``v^T H = (H v)^T``, H
    being symmetric), with no extra dot product recorded.

    Parameters
    ----------
    fun : callable
    argnums : int, default 0
    replay : bool, default False
        Replay the recorded gradient graph on later calls (see :func:`jacobian`).

    Returns
    -------
    callable
        ``(*args, v) -> H v`` with the shape of the differentiated argument.

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> f = lambda x: (x ** 3).sum()
    >>> nb.hvp(f)(np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    if not isinstance(argnums, int):
        raise TypeError("hvp differentiates one argument; pass an int argnums")
    replayer = Replayer() if replay else None

    @functools.wraps(fun)
    def wrapped(*args):
        *args, v = args
        if len(args) == 0:
            raise TypeError("hvp(f)(x, v) needs the point x and the direction v")
        _, nums = _normalize_argnums(argnums, len(args))
        key = None
        if replayer is not None:
            program, key, values = replayer.lookup(args, nums)
            if program is not None:
                (var,) = program.variables
                replayed = replayer.run(program, values, [_direction(v, var, False)])
                if replayed is not None:
                    (cot,) = replayed[1][0]
                    return cot if cot is not None else _zeros_like_cotangent((), var)
        with Replayer.record(key) as recorder:
            out, inputs, nested = _trace(fun, args, nums)
            _check_scalar(out)
            (g,) = _pull(out, inputs, np.ones(out.shape, dtype=out.dtype), True)
        if replayer is not None:
            replayer.add(key, recorder, args, inputs, nums, g)
        (var,) = inputs
        direction = _direction(v, var, nested)
        if not (isinstance(g, Tensor) and g.requires_grad):
            # the gradient does not depend on x: f is affine in it, H = 0
            return _output([_zeros_like_cotangent((), var)], nested)[0]
        return _output(_pull(g, inputs, direction, nested), nested)[0]

    return wrapped


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
