"""The backward pass: iteration without recursion, release, accumulation, double backward."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.autodiff.engine import backprop


def test_recorded_tensors_are_numbered_after_their_arguments():
    # the backward pass visits tensors from the highest creation number down, which is
    # a topological order only because of this
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a + x
    c = b * a
    assert c._seq > b._seq > a._seq


def test_diamond_gets_every_term_before_it_propagates():
    # c = (2x + x)(2x) = 6x^2: a receives terms from b and c, x from a and b
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a + x
    c = b * a
    c.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 12 * x.numpy())


def test_chain_of_100000_ops_backpropagates_without_recursion():
    x = nb.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert float(x.grad.numpy()) == 1.0


def test_graph_is_released_after_backward():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_and_gradients_accumulate():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * 2 * x.numpy())
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 4 * x.numpy() + 3)


def test_create_graph_double_backward():
    x = nb.tensor([0.5, -1.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    np.testing.assert_allclose(first.numpy(), 3 * x.numpy() ** 2)
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy())


def test_no_grad_records_nothing_and_restores_the_mode():
    x = nb.tensor([1.0], requires_grad=True)
    with nb.no_grad():
        y = x * 2
        with nb.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad
    assert nb.is_grad_enabled()

    @nb.no_grad()
    def doubled(t):
        return t * 2

    assert not doubled(x).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_shared_subexpressions_accumulate_correctly():
    # the same cotangent array feeds several arguments; summing in place must not alias
    x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x + x
    z = (y + y + x * y).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 + 4 * x.numpy())


def test_user_gradient_array_is_not_modified():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([1.0, 1.0])
    y = x + x  # add's rule hands the seed itself to both arguments
    y.backward(seed)
    np.testing.assert_array_equal(seed, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_backward_of_non_scalar_needs_a_gradient_of_the_right_shape():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element output, got shape \(2,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        (x * 2).backward(np.ones(3))
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])


def test_backprop_to_targets_with_a_batch_of_cotangents():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    unused = nb.tensor([5.0], requires_grad=True)
    y = x * x
    (gx, gu) = backprop(y, np.eye(2), [x, unused])
    np.testing.assert_array_equal(gx, np.diag(2 * x.numpy()))
    assert gu is None


def test_leaf_gradient_keeps_leaf_dtype():
    x = nb.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * np.float64(2.0)).sum().backward()
    assert x.grad.dtype == np.float32


def test_grads_own_their_buffers_when_rules_pass_cotangents_through():
    import nablanet as nb

    a = nb.tensor(np.zeros(3), requires_grad=True)
    b = nb.tensor(np.zeros(3), requires_grad=True)
    seed = np.array([1.0, 2.0, 3.0])
    (a + b).backward(gradient=seed)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    assert not np.shares_memory(a.grad.data, seed)
    a.grad.data[...] = 0.0  # an in-place zero_grad of one leaf
    np.testing.assert_array_equal(b.grad.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])
