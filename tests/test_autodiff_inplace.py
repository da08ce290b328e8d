"""In-place first-order rules: used when the engine alone holds the cotangent, never otherwise."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import ops
from nablanet.autodiff import REGISTRY
from nablanet.checks import check_grads


@pytest.fixture
def inplace_calls(monkeypatch):
    """Record every call of leaky_relu's in-place rule (and whether it accepted)."""
    prim = REGISTRY["leaky_relu"]
    rule = prim.inplace_vjp
    calls = []

    def recording(g, *args, **kwargs):
        out = rule(g, *args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(prim, "inplace_vjp", recording)
    return calls


def _slope(x):
    return np.where(x > 0, 1.0, 0.1)


def test_exclusive_cotangent_takes_the_inplace_path(rng, inplace_calls):
    # the cotangent reaching leaky_relu is w * 1, a fresh array only the engine holds
    x, w = rng.standard_normal(6), rng.standard_normal(6)
    g = nb.grad(lambda x: ops.sum(w * ops.leaky_relu(x, 0.1)))(x)
    assert inplace_calls == [True]
    np.testing.assert_allclose(g, w * _slope(x), rtol=0, atol=0)


def test_shared_cotangent_is_never_written(rng, inplace_calls):
    # add hands the same array to both branches: writing it for one would corrupt the other
    u, v, w = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5)

    def loss(u, v):
        return ops.sum(w * (ops.leaky_relu(u, 0.1) + ops.leaky_relu(v, 0.1)))

    gu, gv = nb.grad(loss, argnums=(0, 1))(u, v)
    np.testing.assert_array_equal(gu, w * _slope(u))
    np.testing.assert_array_equal(gv, w * _slope(v))
    assert inplace_calls.count(True) <= 1  # only the last holder may be written


def test_caller_gradient_is_left_untouched(rng, inplace_calls):
    x = nb.tensor(rng.standard_normal(4), requires_grad=True)
    seed = rng.standard_normal(4)
    kept = seed.copy()
    ops.leaky_relu(x, 0.1).backward(gradient=seed)
    np.testing.assert_array_equal(seed, kept)
    assert inplace_calls == []
    np.testing.assert_array_equal(x.grad.numpy(), kept * _slope(x.numpy()))


def test_replaced_rule_disables_the_inplace_variant(monkeypatch, rng):
    prim = REGISTRY["leaky_relu"]
    monkeypatch.setattr(prim, "vjps", (lambda g, ans, x, negative_slope=0.01: 3 * g,))
    x, w = rng.standard_normal(4), rng.standard_normal(4)
    g = nb.grad(lambda x: ops.sum(w * ops.leaky_relu(x, 0.1)))(x)
    np.testing.assert_allclose(g, 3 * w)  # the replacement ran, not the stale in-place rule


def test_batch_norm_twice_with_retained_graph(rng):
    # the in-place rule must not write into the saved xhat: a second pass sees the same values
    x = nb.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    weight = nb.tensor(rng.standard_normal(3), requires_grad=True)
    w = rng.standard_normal((6, 3))
    out = ops.sum(w * ops.batch_norm(x, None, None, weight, None, training=True))
    out.backward(retain_graph=True)
    first = x.grad.numpy().copy(), weight.grad.numpy().copy()
    x.grad = weight.grad = None
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first[0])
    np.testing.assert_array_equal(weight.grad.numpy(), first[1])


def test_inplace_and_graph_rules_agree_with_differences(rng):
    # first order takes the in-place rules, order 2 the graph-building ones; both checked
    x = rng.standard_normal((5, 4))
    weight, mask = rng.standard_normal(4), (rng.random((5, 4)) > 0.3) / 0.7
    w = rng.standard_normal((5, 4))

    def loss(x):
        h = ops.batch_norm(x, None, None, weight, None, training=True)
        return ops.sum(w * ops.multiply(ops.leaky_relu(h, 0.1), mask) ** 2)

    check_grads(loss, [x], order=2)


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("matmul", lambda a, b: ops.matmul(a, b)),
        ("linear", lambda a, b: ops.linear(a, b.T)),
    ],
)
def test_first_order_rule_matches_graph_rule(rng, monkeypatch, name, build):
    # the NumPy first-order rule (taken by .backward()) against the graph-building rules
    # (taken with create_graph=True), on a product whose inputs both need gradients
    prim = REGISTRY[name]
    rule, calls = prim.inplace_vjp, []

    def recording(*args, **kwargs):
        out = rule(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(prim, "inplace_vjp", recording)
    a_val, b_val = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    w = rng.standard_normal((5, 4))
    grads = []
    for create_graph in (False, True):
        a, b = nb.tensor(a_val, requires_grad=True), nb.tensor(b_val, requires_grad=True)
        ops.sum(w * build(a, b)).backward(create_graph=create_graph)
        grads.append((a.grad.numpy(), b.grad.numpy()))
    assert calls == [True]
    np.testing.assert_allclose(grads[0][0], w @ b_val.T, rtol=1e-12)
    np.testing.assert_allclose(grads[0][1], a_val.T @ w, rtol=1e-12)
    for first, graph in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(first, graph, rtol=1e-12)
