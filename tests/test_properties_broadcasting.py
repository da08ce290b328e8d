"""Random shapes and broadcasting patterns through binary ops and reductions (hypothesis).

Values against NumPy, gradients against PyTorch (skipped without it) and against the
joint finite-difference check; bounded example counts.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nablanet as nb
from nablanet.checks import check_grads

#: name -> (nablanet op, NumPy op, torch op name, keep y away from 0 and x positive)
BINARY = {
    "add": (nb.add, np.add, "add", False),
    "subtract": (nb.subtract, np.subtract, "subtract", False),
    "multiply": (nb.multiply, np.multiply, "multiply", False),
    "divide": (nb.divide, np.divide, "divide", True),
    "power": (nb.power, np.power, "pow", True),
    "maximum": (nb.maximum, np.maximum, "maximum", False),
    "minimum": (nb.minimum, np.minimum, "minimum", False),
}

broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    min_side=1, max_side=3)


def _operands(shapes, seed, positive):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shapes.input_shapes[0])
    y = rng.standard_normal(shapes.input_shapes[1])
    if positive:
        x, y = np.abs(x) + 0.5, np.abs(y) + 0.5
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(BINARY)), shapes=broadcast_pairs, seed=st.integers(0, 999))
def test_binary_ops_broadcast_like_numpy_and_differentiate_like_torch(name, shapes, seed):
    op, reference, torch_name, positive = BINARY[name]
    x, y = _operands(shapes, seed, positive)
    out = op(x, y)
    np.testing.assert_allclose(out, reference(x, y))
    assert np.shape(out) == shapes.result_shape
    gx, gy = nb.grad(lambda a, b: nb.sum(op(a, b) * op(a, b)), argnums=(0, 1))(x, y)
    assert gx.shape == x.shape and gy.shape == y.shape
    torch = pytest.importorskip("torch")
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    t_out = getattr(torch, torch_name)(tx, ty)
    (t_out * t_out).sum().backward()
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(name=st.sampled_from(["add", "multiply", "divide", "power"]), shapes=broadcast_pairs,
       seed=st.integers(0, 999))
def test_binary_ops_pass_the_joint_check_under_broadcasting(name, shapes, seed):
    op, _, _, positive = BINARY[name]
    x, y = _operands(shapes, seed, positive)
    check_grads(lambda a, b: op(a, b) * a, [x, y], order=2, seed=seed)


@st.composite
def reduced(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    axes = draw(st.none() | st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1,
                                     max_size=len(shape), unique_by=lambda a: a % len(shape)))
    keepdims = draw(st.booleans())
    return shape, None if axes is None else tuple(axes), keepdims


#: name -> (nablanet op, NumPy reference, torch reference(t, x, axis, keepdims))
REDUCTIONS = {
    "sum": (nb.sum, np.sum, lambda t, x, a, k: x.sum(dim=a, keepdim=k) if a else x.sum()),
    "mean": (nb.mean, np.mean, lambda t, x, a, k: x.mean(dim=a, keepdim=k) if a else x.mean()),
    "max": (nb.max, np.max, lambda t, x, a, k: t.amax(x, dim=a or (), keepdim=k)),
    "logsumexp": (
        nb.logsumexp,
        lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
        lambda t, x, a, k: t.logsumexp(x, dim=a or tuple(range(x.ndim)), keepdim=k)),
}


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(REDUCTIONS)), case=reduced(), seed=st.integers(0, 999))
def test_reductions_over_random_axes(name, case, seed):
    shape, axis, keepdims = case
    op, reference, torch_reference = REDUCTIONS[name]
    x = np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_allclose(op(x, axis=axis, keepdims=keepdims),
                               reference(x, axis=axis, keepdims=keepdims), rtol=1e-12)
    g = nb.grad(lambda z: nb.sum(op(z, axis=axis, keepdims=keepdims) ** 2))(x)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    dims = None if axis is None else tuple(a % len(shape) for a in axis)
    (torch_reference(torch, tx, dims, keepdims) ** 2).sum().backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(name=st.sampled_from(["sum", "mean", "logsumexp"]), case=reduced(),
       seed=st.integers(0, 999))
def test_reductions_pass_the_joint_check(name, case, seed):
    shape, axis, keepdims = case
    op = REDUCTIONS[name][0]
    x = np.random.default_rng(seed).standard_normal(shape)
    check_grads(lambda z: op(z, axis=axis, keepdims=keepdims) ** 2, [x], order=2, seed=seed)


@settings(max_examples=20, deadline=None)
@given(case=reduced())
def test_reductions_of_empty_arrays_follow_numpy(case):
    shape, axis, keepdims = case
    shape = (0,) + shape[1:]
    x = np.zeros(shape)
    np.testing.assert_array_equal(nb.sum(x, axis=axis, keepdims=keepdims),
                                  np.sum(x, axis=axis, keepdims=keepdims))
    with np.errstate(divide="ignore"):
        expected = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(nb.logsumexp(x, axis=axis, keepdims=keepdims), expected)
    g = nb.grad(lambda z: nb.sum(nb.logsumexp(z, axis=axis, keepdims=keepdims)))(x)
    assert g.shape == shape
