"""Elementwise primitives and their VJPs.

Rules are written with nablanet's own operations (Python operators on the
cotangent included), so they run on arrays in a first-order pass and on
Tensors, recording a graph, when a higher derivative is wanted.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.primitive import Primitive
from nablanet.autodiff.tensor import Tensor, shape_of
from nablanet.ops._broadcast import unbroadcast


def _ndim(ans):
    return len(shape_of(ans))


def _binary_rules(dx, dy):
    """Per-argument rules from local derivatives, with broadcasting undone."""

    def rule_x(g, ans, x, y):
        return unbroadcast(dx(g, ans, x, y), shape_of(x), _ndim(ans))

    def rule_y(g, ans, x, y):
        return unbroadcast(dy(g, ans, x, y), shape_of(y), _ndim(ans))

    return rule_x, rule_y


identity = Primitive("identity", lambda x: x, preserves_dtype=True)
# d x / d x = 1
identity.defvjp(lambda g, ans, x: g)

add = Primitive("add", np.add)
# d(x + y) = dx + dy
add.defvjp(*_binary_rules(lambda g, a, x, y: g, lambda g, a, x, y: g))

subtract = Primitive("subtract", np.subtract)
# d(x - y) = dx - dy
subtract.defvjp(*_binary_rules(lambda g, a, x, y: g, lambda g, a, x, y: -g))

multiply = Primitive("multiply", np.multiply)
# d(x y) = y dx + x dy
multiply.defvjp(*_binary_rules(lambda g, a, x, y: g * y, lambda g, a, x, y: g * x))


def _same_float_dtype(g, y):
    """True when g * y keeps g's dtype (an array of the same dtype, or a Python scalar)."""
    if type(y) is np.ndarray:
        return y.dtype == g.dtype
    return np.result_type(g, y) == g.dtype


def _multiply_inplace(g, ans, needs, x, y):
    # d(x y)/dx = y, into g's buffer when only x needs it and nothing was broadcast
    # (dropout's mask, a constant); first-order passes only
    if needs[1] or shape_of(x) != g.shape or not _same_float_dtype(g, y):
        return None
    return np.multiply(g, y, out=g), None


multiply.defvjp_inplace(_multiply_inplace)

divide = Primitive("divide", np.true_divide)
# d(x / y) = dx / y - x dy / y^2
divide.defvjp(*_binary_rules(lambda g, a, x, y: g / y, lambda g, a, x, y: -g * a / y))

negative = Primitive("negative", np.negative)
# d(-x) = -dx
negative.defvjp(lambda g, ans, x: -g)


def _power_dbase(g, ans, x, y):
    # d(x^y)/dx = y x^(y-1), and exactly 0 where y = 0 (x^0 is constant; PyTorch masks it
    # too): the exponent there is moved to 1 so that no 0 * inf = NaN appears at x = 0, in
    # this derivative or in any higher one (the masked power is differentiated the same way)
    if isinstance(y, Tensor) or np.ndim(y):
        safe = where(compare(y, 0, op=np.equal), 1.0, y)
    else:
        safe = 1.0 if y == 0 else y  # a constant exponent (x ** 2): no mask to build
    return g * y * power(x, safe - 1)


def _power_dexponent(g, ans, x, y):
    # d(x^y)/dy = x^y log x: NaN for x < 0 (no real derivative: NumPy warns), 0 at x = 0
    # for y >= 0 (the limit of x^y log x; log sees 1 there), -inf at x = 0 for y < 0
    safe = where(_zero_base_limit(x, y), 1.0, x)
    return g * ans * log(safe)


def _zero_base_limit_impl(x, y):
    return (np.asarray(x) == 0) & (np.asarray(y) >= 0)


# where x^y log x -> 0; a primitive (not differentiated) so that a replay recomputes it
_zero_base_limit = Primitive("power_zero_base", _zero_base_limit_impl, differentiable=False)


power = Primitive("power", np.power)
power.defvjp(*_binary_rules(_power_dbase, _power_dexponent))

exp = Primitive("exp", np.exp)
# d e^x = e^x dx
exp.defvjp(lambda g, ans, x: g * ans)

log = Primitive("log", np.log)
# d log x = dx / x
log.defvjp(lambda g, ans, x: g / x)

log1p = Primitive("log1p", np.log1p)
# d log(1 + x) = dx / (1 + x)
log1p.defvjp(lambda g, ans, x: g / (1 + x))

expm1 = Primitive("expm1", np.expm1)
# d (e^x - 1) = e^x dx
expm1.defvjp(lambda g, ans, x: g * (ans + 1))

sqrt = Primitive("sqrt", np.sqrt)
# d sqrt(x) = dx / (2 sqrt(x))
sqrt.defvjp(lambda g, ans, x: g / (2 * ans))

tanh = Primitive("tanh", np.tanh)
# d tanh x = (1 - tanh^2 x) dx
tanh.defvjp(lambda g, ans, x: g * (1 - ans * ans))

sign = Primitive("sign", np.sign, differentiable=False)

abs = Primitive("abs", np.abs)  # noqa: A001 - mirrors numpy.abs
# d|x| = sign(x) dx  (0 at x = 0, as PyTorch)
abs.defvjp(lambda g, ans, x: g * sign(x))


def _tie_split_impl(x, y):
    """Weight of x in max(x, y): 1 where x wins, 1/2 on ties (PyTorch), 0 otherwise."""
    return np.where(x == y, 0.5, (x > y).astype(np.result_type(x, y, np.float32)))


# the masks of the rules below are primitives too (not differentiated), so that a
# recorded backward pass that is replayed recomputes them (nablanet.autodiff.replay)
_tie_split = Primitive("tie_split", _tie_split_impl, differentiable=False)
compare = Primitive("compare", lambda a, b, op: op(a, b), differentiable=False)


maximum = Primitive("maximum", np.maximum, preserves_dtype=True)
# d max(x, y) = [x > y] dx + [y > x] dy, ties split evenly
maximum.defvjp(
    *_binary_rules(
        lambda g, a, x, y: g * _tie_split(x, y), lambda g, a, x, y: g * _tie_split(y, x)
    )
)

minimum = Primitive("minimum", np.minimum, preserves_dtype=True)
# d min(x, y) = [x < y] dx + [y < x] dy, ties split evenly
minimum.defvjp(
    *_binary_rules(
        lambda g, a, x, y: g * _tie_split(y, x), lambda g, a, x, y: g * _tie_split(x, y)
    )
)


def _where_impl(condition, x, y):
    return np.where(condition, x, y)


def _where_rule(branch):
    def rule(g, ans, condition, x, y):
        taken = _branch_mask(condition, branch)
        target = x if branch else y
        return unbroadcast(where(taken, g, 0.0), shape_of(target), _ndim(ans))

    return rule


def _branch_mask_impl(condition, branch):
    taken = np.asarray(condition, dtype=bool)
    return taken if branch else ~taken


_branch_mask = Primitive("where_branch_mask", _branch_mask_impl, differentiable=False)
where = Primitive("where", _where_impl, preserves_dtype=True)
# d where(c, x, y) = where(c, dx, dy)
where.defvjp(None, _where_rule(True), _where_rule(False))


def _clip_impl(x, lo, hi):
    return np.clip(x, lo, hi)


def _clip_inside_impl(x, lo, hi, shape):
    inside = np.ones(shape, dtype=bool)  # bounds may broadcast x up
    if lo is not None:
        inside = inside & (x >= lo)
    if hi is not None:
        inside = inside & (x <= hi)
    return inside


_clip_inside = Primitive("clip_inside", _clip_inside_impl, differentiable=False)


def _clip_rule(g, ans, x, lo, hi):
    inside = _clip_inside(x, lo, hi, tuple(shape_of(ans)))
    return unbroadcast(where(inside, g, 0.0), shape_of(x), _ndim(ans))


clip = Primitive("clip", _clip_impl, preserves_dtype=True)
# d clip(x, lo, hi) = [lo <= x <= hi] dx  (PyTorch passes the gradient at the bounds)
clip.defvjp(_clip_rule, None, None)


def square(x):
    """x * x, elementwise."""
    return multiply(x, x)
