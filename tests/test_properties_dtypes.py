"""Integer, boolean, empty and 0-d inputs through every op.

Every spec of every ``tests/specs_*.py`` module (so every primitive, those added later
included) is called with integer- and boolean-valued arguments: the result must be the one
of the same values as floats (a kernel never computes in integers by mistake).  Empty and
0-d arrays go through the elementwise, activation, reduction and loss ops.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet import ops
from test_ops_registry import SPECS


def _quietly(fun, args):
    # the arrays as constant Tensors, so that a spec's operators (a @ b) are nablanet's
    args = [nb.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(nb.Tensor(fun(*args)).data)


CONVERSIONS = {"int": lambda a: np.rint(a).astype(np.int64), "bool": lambda a: a > np.median(a)}


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("kind", sorted(CONVERSIONS))
def test_every_primitive_computes_integers_and_booleans_as_floats(name, kind):
    fun, args = SPECS[name](np.random.default_rng(0))
    for i, a in enumerate(args):  # one argument at a time: the others stay as they were
        if not (isinstance(a, np.ndarray) and a.dtype.kind == "f"):
            continue
        exact = CONVERSIONS[kind](a)
        as_ints = args[:i] + [exact] + args[i + 1:]
        as_floats = args[:i] + [exact.astype(np.float64)] + args[i + 1:]
        try:
            expected = _quietly(fun, as_floats)
        except ValueError as err:  # these values have no answer (a singular 0/1 matrix)
            with pytest.raises(type(err)):
                _quietly(fun, as_ints)
            continue
        try:
            ours = _quietly(fun, as_ints)
        except (TypeError, ValueError) as err:
            # a clear refusal is allowed (integer targets are class labels), a wrong value not
            assert "must" in str(err) or "expected" in str(err), err
            continue
        np.testing.assert_allclose(ours, expected, rtol=1e-12, equal_nan=True,
                                   err_msg=f"argument {i} as {kind}")


#: ops of one array that accept any shape, with their NumPy/math reference
ELEMENTWISE = {
    "exp": (nb.exp, np.exp), "log1p": (nb.log1p, np.log1p), "tanh": (nb.tanh, np.tanh),
    "sqrt": (nb.sqrt, np.sqrt), "abs": (nb.abs, np.abs), "negative": (nb.negative, np.negative),
    "square": (lambda x: x ** 2, np.square), "expm1": (nb.expm1, np.expm1),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "softplus": (ops.softplus, lambda x: np.logaddexp(0, x)),
    "log_sigmoid": (ops.log_sigmoid, lambda x: -np.logaddexp(0, -x)),
    "relu": (ops.relu, lambda x: np.maximum(x, 0)),
    "leaky_relu": (lambda x: ops.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    "clip": (lambda x: nb.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_ops_of_empty_and_0d_arrays(name):
    op, reference = ELEMENTWISE[name]
    for x in (np.zeros((0, 3)), np.zeros(0), np.array(0.7), np.array(-1e4), np.array(1e4)):
        with np.errstate(over="ignore", invalid="ignore"):
            expected = reference(x)
        out = op(x)
        assert np.shape(out) == x.shape
        np.testing.assert_allclose(out, expected, rtol=1e-12)
        with np.errstate(over="ignore", invalid="ignore"):
            g = nb.grad(lambda z: nb.sum(op(z)))(x)
        assert np.shape(g) == x.shape
        assert np.all(np.isfinite(g) | ~np.isfinite(expected) | (name in ("exp", "expm1")))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_ops_of_integers_and_booleans(name):
    op, reference = ELEMENTWISE[name]
    for x in (np.array([-3, 0, 2, 5]), np.array([True, False]), np.array(3), 2, True):
        with np.errstate(invalid="ignore"):
            np.testing.assert_allclose(op(x), reference(np.asarray(x, dtype=float)),
                                       rtol=1e-12, equal_nan=True)


def test_losses_of_empty_batches_follow_the_maths():
    empty = np.zeros((0, 3))
    labels = np.zeros(0, dtype=int)
    assert ops.cross_entropy(empty, empty, reduction="sum") == 0.0
    assert ops.cross_entropy(empty, empty, reduction="none").shape == (0,)
    assert ops.binary_cross_entropy_with_logits(empty, empty, reduction="sum") == 0.0
    assert ops.cross_entropy(empty, labels, reduction="none").shape == (0,)
    g = nb.grad(lambda z: ops.cross_entropy(z, labels, reduction="sum"))(empty)
    assert g.shape == (0, 3)


@settings(max_examples=20, deadline=None)
@given(rows=st.integers(0, 3), cols=st.integers(0, 3),
       dtype=st.sampled_from([np.int64, np.int32, np.uint8, np.bool_]))
def test_softmax_family_of_any_size_and_integer_dtype(rows, cols, dtype):
    x = np.arange(rows * cols).reshape(rows, cols).astype(dtype)
    for op in (ops.softmax, ops.log_softmax):
        out = op(x)
        assert out.shape == x.shape and out.dtype.kind == "f"
        np.testing.assert_allclose(out, op(x.astype(float)))
    if cols:
        np.testing.assert_allclose(nb.logsumexp(x, axis=1), nb.logsumexp(x.astype(float), 1))
