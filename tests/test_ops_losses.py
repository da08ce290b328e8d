"""Losses: order-2 gradients, the fused rules, reductions, label checks, extreme logits."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import ops
from nablanet.checks import check_grads
from specs_layers import LAYER_SPECS


@pytest.mark.parametrize(
    "name", ["binary_cross_entropy_with_logits", "binary_cross_entropy", "softmax_cross_entropy"]
)
def test_check_grads_order_2(name, rng):
    fun, args = LAYER_SPECS[name](rng)
    check_grads(fun, args, order=2)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_composed_losses_order_2(reduction, rng):
    z, y = rng.standard_normal((4, 3)), rng.uniform(size=(4, 3))
    pw, w = rng.uniform(0.5, 2, 3), rng.uniform(0.5, 2, 3)
    check_grads(lambda z: ops.binary_cross_entropy_with_logits(z, y, reduction, w, pw), [z])
    check_grads(lambda a, b: ops.mse_loss(a, b, reduction), [z, y])
    labels = np.array([0, 2, 1, 2])
    check_grads(lambda z: ops.cross_entropy(z, labels, reduction, w, 0.1), [z])


def test_bce_with_logits_gradient_is_sigmoid_minus_y(rng):
    z, y = rng.standard_normal(6), rng.integers(0, 2, 6).astype(float)
    g = nb.grad(lambda z: ops.binary_cross_entropy_with_logits(z, y, "sum"))(z)
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-z)) - y, rtol=1e-14)


def test_bce_with_logits_extreme_limits():
    z = np.array([-1e4, 1e4, -1e4, 1e4])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss = ops.binary_cross_entropy_with_logits(z, y, "none")
    np.testing.assert_array_equal(loss, [1e4, 1e4, 0.0, 0.0])
    g = nb.grad(lambda z: ops.binary_cross_entropy_with_logits(z, y, "sum"))(z)
    np.testing.assert_array_equal(g, [-1.0, 1.0, 0.0, 0.0])
    hess = nb.hessian(lambda z: ops.binary_cross_entropy_with_logits(z, y, "sum"))(z)
    assert np.all(np.isfinite(hess))


def test_bce_probabilities_clamped_like_pytorch():
    loss = ops.binary_cross_entropy(np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0]), "none")
    np.testing.assert_allclose(loss, [100.0, 100.0, np.log(2)])
    g = nb.grad(lambda p: ops.binary_cross_entropy(p, np.array([1.0]), "sum"))(np.array([0.0]))
    assert np.isfinite(g).all() and g[0] == -1e12
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ops.binary_cross_entropy(np.array([1.5]), np.array([1.0]))


def test_cross_entropy_gradient_is_p_minus_y_for_indices_and_probabilities(rng):
    z = rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    onehot = np.eye(4)[labels]
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    g_idx = nb.grad(lambda z: ops.cross_entropy(z, labels, "sum"))(z)
    g_prob = nb.grad(lambda z: ops.cross_entropy(z, onehot, "sum"))(z)
    np.testing.assert_allclose(g_idx, p - onehot, atol=1e-15)
    np.testing.assert_allclose(g_prob, p - onehot, atol=1e-15)
    np.testing.assert_allclose(
        ops.cross_entropy(z, labels), -np.mean(np.log(p[np.arange(5), labels]))
    )


def test_cross_entropy_extreme_logits_no_nan():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    loss = ops.cross_entropy(z, np.array([1, 0]), "none")
    np.testing.assert_allclose(loss, [2e4, np.log(3)])
    g = nb.grad(lambda z: ops.cross_entropy(z, np.array([1, 0]), "sum"))(z)
    assert np.all(np.isfinite(g))


def test_cross_entropy_label_errors():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"\[0, 2\].*\[3\]"):
        ops.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"\[-1\]"):
        ops.cross_entropy(z, np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        ops.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="class indices"):
        ops.cross_entropy(z, np.array(["a", "b"]))
    with pytest.raises(ValueError, match="reduction"):
        ops.cross_entropy(z, np.array([0, 1]), reduction="avg")


def test_cross_entropy_ignore_index():
    z = np.array([[1.0, 2.0], [3.0, 0.0]])
    full = ops.cross_entropy(z[:1], np.array([1]))
    np.testing.assert_allclose(ops.cross_entropy(z, np.array([1, -100])), full)


def test_cross_entropy_single_sample_1d(rng):
    z = rng.standard_normal(4)
    loss = ops.cross_entropy(z, np.array(2))
    np.testing.assert_allclose(loss, -ops.log_softmax(z)[2])


def test_mse_and_shapes(rng):
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    np.testing.assert_allclose(ops.mse_loss(a, b, "sum"), np.sum((a - b) ** 2))
    np.testing.assert_allclose(nb.grad(lambda a: ops.mse_loss(a, b))(a), 2 * (a - b) / 5)
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        ops.mse_loss(a, b[:3])


def test_float32_stays_float32(rng):
    z = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.uniform(size=(4, 3)).astype(np.float32)
    labels = np.array([0, 1, 2, 0])
    for fun in (
        lambda z: ops.cross_entropy(z, labels, label_smoothing=0.1),
        lambda z: ops.binary_cross_entropy_with_logits(z, y),
        lambda z: ops.mse_loss(z, y),
    ):
        value, g = nb.value_and_grad(fun)(z)
        assert value.dtype == np.float32 and g.dtype == np.float32


# -- limits at +-inf, BCE's second derivative, integer logits (issue 16) ----------------------
def test_bce_with_logits_takes_its_limits_at_infinite_logits():
    z = np.array([np.inf, np.inf, -np.inf, -np.inf, np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    loss = ops.binary_cross_entropy_with_logits(z, y, "none")
    np.testing.assert_array_equal(loss, [0.0, np.inf, 0.0, np.inf, np.inf])
    g = nb.grad(lambda z: ops.binary_cross_entropy_with_logits(z, y, "sum"))(z)
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0, -1.0, 0.5])  # sigma(z) - y


def test_cross_entropy_takes_its_limits_at_infinite_logits():
    z = np.array([[np.inf, 0.0], [np.inf, 0.0], [-np.inf, 0.0]])
    np.testing.assert_array_equal(ops.cross_entropy(z, np.array([0, 1, 1]), reduction="none"),
                                  [0.0, np.inf, 0.0])
    assert ops.cross_entropy(z[:1], np.array([0])) == 0.0  # the fused class-index path
    probs = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(ops.cross_entropy(z, probs, reduction="none"), [0, 0, 0])
    g = nb.grad(lambda z: ops.cross_entropy(z, np.array([0, 0, 1]), reduction="sum"))(z)
    np.testing.assert_array_equal(g, [[0, 0], [0, 0], [0, 0]])  # softmax - onehot


def test_bce_second_derivative_is_the_true_one_near_0_and_1():
    # l(p) = -log(1 - p) for y = 0: d2l/dp2 = 1 / (1 - p)^2, about 1 near p = 0 (the old
    # rule, PyTorch's floor of p (1 - p) at 1e-12, gave 1e12 at p = 1e-13)
    for p, y, truth in ((1e-13, 0.0, 1.0), (1 - 1e-13, 1.0, 1.0), (1e-6, 1.0, 1e12),
                        (0.3, 0.25, 0.25 / 0.09 + 0.75 / 0.49)):
        h = nb.hessian(lambda q, y=y: ops.binary_cross_entropy(q, np.array([y]), "sum"))(
            np.array([p]))
        assert h[0, 0] == pytest.approx(truth, rel=1e-3)
    g = nb.grad(lambda q: ops.binary_cross_entropy(q, np.array([0.0]), "sum"))(np.array([1e-13]))
    assert g[0] == pytest.approx(1.0)  # PyTorch: 0.1


def test_integer_logits_give_a_floating_cross_entropy():
    logits = np.array([[1, 2], [3, 0]])
    for target in (np.array([0, 1]), np.array([[1.0, 0.0], [0.5, 0.5]])):
        for kw in ({}, {"reduction": "none"}, {"label_smoothing": 0.1}):
            ours = ops.cross_entropy(logits, target, **kw)
            assert np.asarray(ours).dtype == np.float64
            np.testing.assert_allclose(ours, ops.cross_entropy(logits.astype(float), target, **kw))
    assert ops.binary_cross_entropy_with_logits(np.array([2, -1]), np.array([1, 0])) == \
        pytest.approx(ops.binary_cross_entropy_with_logits(np.array([2.0, -1.0]),
                                                           np.array([1.0, 0.0])))


def test_losses_of_large_logits_match_torch(rng):
    torch = pytest.importorskip("torch")
    z = rng.standard_normal((4, 3)) * 1e4
    labels = np.array([0, 2, 1, 1])
    tz = torch.tensor(z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(tz, torch.tensor(labels))
    loss.backward()
    assert ops.cross_entropy(z, labels) == pytest.approx(loss.item())
    np.testing.assert_allclose(nb.grad(lambda z: ops.cross_entropy(z, labels))(z),
                               tz.grad.numpy(), atol=1e-12)


def test_bce_derivative_at_the_edges_is_the_true_one_where_the_loss_is_smooth():
    # y = 0: l = -log(1 - p), smooth at p = 0 with dl/dp = 1 (PyTorch's formula gives 0/0 -> 0)
    grad = nb.grad(lambda p: ops.binary_cross_entropy(p, np.array([0.0, 1.0]), "sum"))
    np.testing.assert_allclose(grad(np.array([0.0, 1.0])), [1.0, -1.0])
    # y = 1 at p = 0: -log p is clamped at 100; the derivative is floored at -1e12 (PyTorch)
    assert nb.grad(lambda p: ops.binary_cross_entropy(p, np.array([1.0]), "sum"))(
        np.array([0.0]))[0] == -1e12


def test_bce_with_logits_and_pos_weight_takes_its_limits_and_matches_torch(rng):
    z = np.array([np.inf, np.inf, -np.inf, -np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    loss = ops.binary_cross_entropy_with_logits(z, y, "none", pos_weight=np.array([3.0]))
    np.testing.assert_array_equal(loss, [0.0, np.inf, 0.0, np.inf, np.inf])
    torch = pytest.importorskip("torch")
    z, y, w = rng.standard_normal((4, 3)) * 5, rng.uniform(size=(4, 3)), rng.uniform(0.5, 2, 3)
    tz = torch.tensor(z, requires_grad=True)  # (torch does not differentiate pos_weight)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        tz, torch.tensor(y), pos_weight=torch.tensor(w))
    expected.backward()
    gz = nb.grad(lambda z: ops.binary_cross_entropy_with_logits(z, y, pos_weight=w))(z)
    assert ops.binary_cross_entropy_with_logits(z, y, pos_weight=w) == pytest.approx(
        expected.item(), rel=1e-12)
    np.testing.assert_allclose(gz, tz.grad.numpy(), rtol=1e-10)
