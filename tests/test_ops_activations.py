"""Activations: order-2 gradients, closed forms, stability at |z| = 1e4, float32 kept."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import ops
from nablanet.checks import check_grads
from specs_layers import LAYER_SPECS

NAMES = ["sigmoid", "softplus", "log_sigmoid", "relu", "leaky_relu", "softmax", "log_softmax"]
EXTREME = np.array([-1e4, -800.0, -30.0, 0.0, 30.0, 800.0, 1e4])


@pytest.mark.parametrize("name", NAMES)
def test_check_grads_order_2(name, rng):
    fun, args = LAYER_SPECS[name](rng)
    check_grads(fun, args, order=2)


def test_sigmoid_and_friends_closed_forms(rng):
    z = rng.standard_normal(10) * 4
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(ops.sigmoid(z), s, rtol=1e-14)
    np.testing.assert_allclose(ops.softplus(z), np.log1p(np.exp(z)), rtol=1e-13)
    np.testing.assert_allclose(ops.log_sigmoid(z), np.log(s), rtol=1e-13)
    np.testing.assert_allclose(nb.grad(lambda x: ops.sigmoid(x).sum())(z), s * (1 - s))
    hess = nb.hessian(lambda x: ops.log_sigmoid(x).sum())(z)
    np.testing.assert_allclose(hess, np.diag(-s * (1 - s)), atol=1e-14)


@pytest.mark.parametrize("fun", [ops.sigmoid, ops.softplus, ops.log_sigmoid, ops.relu])
def test_extreme_inputs_finite_values_and_grads(fun):
    assert np.all(np.isfinite(fun(EXTREME)))
    g = nb.grad(lambda x: fun(x).sum())(EXTREME)
    assert np.all(np.isfinite(g))


def test_extreme_limits():
    np.testing.assert_array_equal(ops.sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])
    np.testing.assert_array_equal(ops.softplus(np.array([-1e4, 1e4])), [0.0, 1e4])
    np.testing.assert_array_equal(ops.log_sigmoid(np.array([-1e4, 1e4])), [-1e4, 0.0])
    np.testing.assert_array_equal(ops.softmax(np.array([-1e4, 0.0, 1e4])), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ops.log_softmax(np.array([0.0, 1e4])), [-1e4, 0.0])
    g = nb.grad(lambda x: ops.log_softmax(x)[0])(np.array([0.0, 1e4]))
    np.testing.assert_array_equal(g, [1.0, -1.0])


def test_leaky_relu_derivative_is_slope_at_zero_and_below():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(ops.leaky_relu(x, 0.1), [-0.2, 0.0, 3.0])
    g = nb.grad(lambda x: ops.leaky_relu(x, 0.1).sum())(x)
    np.testing.assert_array_equal(g, [0.1, 0.1, 1.0])
    np.testing.assert_array_equal(nb.grad(lambda x: ops.relu(x).sum())(x), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("slope", [0.1, 0.3, 2.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_traced_and_plain_paths_agree(slope, dtype, rng):
    # a recorded call and a plain one give the same values, signs of zero and dtype, for
    # slopes below and above 1 (max(x, s x) or min) and for special values; the gradient
    # is the slope, 1 above zero and s at and below it
    x = np.concatenate([rng.standard_normal(20) * 5, [0.0, -0.0, np.inf, -np.inf, np.nan,
                                                        1e4, -1e4]]).astype(dtype)
    plain = ops.leaky_relu(x, slope)
    traced = ops.leaky_relu(nb.tensor(x, requires_grad=True), slope)
    assert traced.dtype == plain.dtype == dtype and traced.requires_grad
    np.testing.assert_array_equal(traced.numpy(), plain)
    np.testing.assert_array_equal(np.signbit(traced.numpy()), np.signbit(plain))
    w = rng.standard_normal(x.shape).astype(dtype)
    with np.errstate(invalid="ignore"):  # the loss itself is NaN here; its gradient is not
        g = nb.grad(lambda x: ops.sum(w * ops.leaky_relu(x, slope)))(x)
    np.testing.assert_array_equal(g, w * np.where(x > 0, dtype(1), dtype(slope)))


def test_softmax_jacobian_closed_form(rng):
    z = rng.standard_normal(5)
    p = ops.softmax(z)
    np.testing.assert_allclose(nb.jacobian(ops.softmax)(z), np.diag(p) - np.outer(p, p),
                               atol=1e-15)
    np.testing.assert_allclose(p.sum(), 1.0)


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_softmax_axis(axis, rng):
    z = rng.standard_normal((3, 4))
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(ops.softmax(z, axis=axis), e / e.sum(axis=axis, keepdims=True))
    check_grads(lambda x: ops.log_softmax(x, axis=axis), [z], order=2)


def test_softmax_bad_axis():
    with pytest.raises(ValueError, match="axis 2"):
        ops.softmax(np.zeros((2, 2)), axis=2)


@pytest.mark.parametrize("fun", [ops.sigmoid, ops.softplus, ops.log_sigmoid, ops.relu,
                                 lambda x: ops.leaky_relu(x, 0.1), ops.softmax, ops.log_softmax])
def test_float32_stays_float32(fun, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    assert fun(x).dtype == np.float32
    g = nb.grad(lambda x: fun(x).sum())(x)
    assert g.dtype == np.float32


def test_infinite_inputs_where_pytorch_is_finite():
    x = np.array([-np.inf, np.inf])
    np.testing.assert_array_equal(ops.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(ops.log_sigmoid(np.array([np.inf])), [0.0])
    np.testing.assert_array_equal(ops.softplus(np.array([-np.inf])), [0.0])
    for fun in (ops.sigmoid, ops.log_sigmoid, ops.softplus):
        g = nb.grad(lambda x, fun=fun: fun(x).sum())(x)
        assert not np.any(np.isnan(g))
    np.testing.assert_array_equal(ops.softmax(np.array([-np.inf, 0.0])), [0.0, 1.0])


# -- limits at +-inf, empty axes, integer input (issue 16) -----------------------------------
def test_softmax_family_takes_its_limits_at_infinite_logits():
    z = np.array([[np.inf, 0.0, 1.0], [np.inf, np.inf, 0.0], [-np.inf, 0.0, 0.0]])
    np.testing.assert_array_equal(ops.softmax(z), [[1, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0.5]])
    np.testing.assert_allclose(ops.log_softmax(z),
                               [[0, -np.inf, -np.inf], [-np.log(2), -np.log(2), -np.inf],
                                [-np.inf, -np.log(2), -np.log(2)]])
    assert nb.logsumexp(np.array([np.inf, 0.0])) == np.inf
    # and the gradient of log_softmax at +inf is the limit of delta - p: zero
    g = nb.grad(lambda z: ops.log_softmax(z)[0])(np.array([np.inf, 0.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_infinite_logits_raise_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.softmax(np.array([np.inf, 0.0]))
        ops.log_softmax(np.array([np.inf, 0.0]))


@pytest.mark.filterwarnings("error")
def test_softmax_over_an_empty_axis_is_empty():
    for op in (ops.softmax, ops.log_softmax):
        assert op(np.zeros((2, 0))).shape == (2, 0)
        assert op(np.zeros((0, 3))).shape == (0, 3)
        assert nb.grad(lambda z, op=op: nb.sum(op(z)))(np.zeros((2, 0))).shape == (2, 0)


@pytest.mark.parametrize("op", [ops.sigmoid, ops.softplus, ops.log_sigmoid, ops.relu,
                                ops.softmax, ops.log_softmax, lambda x: ops.leaky_relu(x, 0.1)])
def test_activations_of_integers_and_booleans_are_those_of_floats(op):
    ints = np.array([[-3, 0, 2], [5, -1, 1]])
    np.testing.assert_allclose(op(ints), op(ints.astype(float)))
    np.testing.assert_allclose(op(ints > 0), op((ints > 0).astype(float)))


@pytest.mark.parametrize("op", [ops.sigmoid, ops.softplus, ops.log_sigmoid, ops.relu])
def test_activations_match_torch_at_extreme_logits_to_second_order(op):
    torch = pytest.importorskip("torch")
    torch_op = {ops.sigmoid: torch.sigmoid, ops.softplus: torch.nn.functional.softplus,
                ops.log_sigmoid: torch.nn.functional.logsigmoid, ops.relu: torch.relu}[op]
    z = np.array([-np.inf, -1e4, -30.0, -1.0, 0.5, 30.0, 1e4, np.inf])
    tz = torch.tensor(z, requires_grad=True)
    out = torch_op(tz)
    d1, = torch.autograd.grad(out.sum(), tz, create_graph=True)
    d2, = torch.autograd.grad(d1.sum(), tz) if d1.requires_grad else (torch.zeros_like(tz),)
    np.testing.assert_allclose(op(z), out.detach().numpy())
    np.testing.assert_allclose(nb.grad(lambda z: nb.sum(op(z)))(z), d1.detach().numpy())
    # (absolute: torch's softplus is x itself past 20, and sigma (1 - sigma) rounds there)
    np.testing.assert_allclose(np.diag(nb.hessian(lambda z: nb.sum(op(z)))(z)), d2.numpy(),
                               atol=1e-12)
