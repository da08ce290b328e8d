"""The Tensor: construction, dtype, operators, methods, the cast primitive."""

import numpy as np
import pytest

import nablanet as nb


def test_tensor_copies_and_keeps_float_dtypes():
    data = np.array([1.0, 2.0], dtype=np.float32)
    t = nb.tensor(data)
    data[0] = 9.0
    assert t.dtype == np.float32 and t.numpy()[0] == 1.0
    assert nb.tensor([1.0, 2.0]).dtype == np.float64
    assert nb.tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(TypeError, match="floating-point.*got dtype int64"):
        nb.tensor([1, 2], requires_grad=True)


def test_facts_and_conversions():
    t = nb.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.is_leaf and t.requires_grad and t.grad is None
    np.testing.assert_array_equal(t.T.numpy(), t.numpy().T)
    assert nb.tensor([4.0]).item() == 4.0 and float(nb.tensor(2.5)) == 2.5
    d = t.detach()
    assert not d.requires_grad and d.numpy() is t.numpy()
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=multiply" in repr(t * 2)
    np.testing.assert_array_equal(np.asarray(t.detach()), t.numpy())
    with pytest.raises(TypeError, match=r"detach\(\)"):
        np.asarray(t)  # the gradient would be lost


def test_operators_broadcast_and_reflect(rng):
    a, b = rng.standard_normal((3, 1)), rng.standard_normal(4)
    ta = nb.tensor(a)
    np.testing.assert_allclose((ta + b).numpy(), a + b)
    np.testing.assert_allclose((b - ta).numpy(), b - a)
    np.testing.assert_allclose((2.0 * ta / b).numpy(), 2 * a / b)
    np.testing.assert_allclose((b / ta).numpy(), b / a)
    np.testing.assert_allclose((ta ** 2).numpy(), a ** 2)
    np.testing.assert_allclose((2.0 ** ta).numpy(), 2.0 ** a)
    np.testing.assert_allclose((-ta).numpy(), -a)
    np.testing.assert_allclose(abs(ta).numpy(), np.abs(a))
    np.testing.assert_allclose((np.ones((2, 3)) @ ta).numpy(), np.ones((2, 3)) @ a)
    assert isinstance(np.ones(4) + ta, nb.Tensor)  # NumPy defers to the Tensor


def test_comparisons_give_plain_boolean_tensors():
    t = nb.tensor([1.0, 2.0], requires_grad=True)
    mask = t > 1.5
    assert mask.dtype == bool and not mask.requires_grad
    np.testing.assert_array_equal((t <= 1.0).numpy(), [True, False])


def test_methods_match_numpy_and_differentiate(rng):
    x = rng.standard_normal((2, 3))
    t = nb.tensor(x, requires_grad=True)
    np.testing.assert_allclose(t.reshape(3, 2).numpy(), x.reshape(3, 2))
    np.testing.assert_allclose(t.transpose(1, 0).numpy(), x.T)
    np.testing.assert_allclose(t.mean(axis=0).numpy(), x.mean(axis=0))
    np.testing.assert_allclose(t.max(axis=1, keepdims=True).numpy(), x.max(axis=1, keepdims=True))
    loss = (t.exp().sum() + t.tanh().mean() + t[0, 1:].sum()) * 1.0
    loss.backward()
    expected = np.exp(x) + (1 - np.tanh(x) ** 2) / 6
    expected[0, 1:] += 1
    np.testing.assert_allclose(t.grad.numpy(), expected)


def test_astype_round_trip_differentiates_with_the_right_dtypes():
    x = nb.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.requires_grad
    assert x.astype(np.float64) is x
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_float32_stays_float32_through_ops_and_backward():
    x = nb.tensor(np.array([0.1, 0.2], dtype=np.float32), requires_grad=True)
    y = nb.logsumexp(nb.tanh(x) * 3.0 + x ** 2)
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_requires_grad_in_place():
    t = nb.tensor([1.0]).requires_grad_()
    assert t.requires_grad
    assert not t.requires_grad_(False).requires_grad
