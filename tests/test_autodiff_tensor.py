"""The Tensor: construction, dtype, operators, methods, the cast primitive."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from conftest import torch_or_skip
from nablanet.checks import check_grads


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


# -- truth values and scalar conversions (NumPy's and PyTorch's rules) ---------------------
shapes = st.lists(st.integers(0, 3), max_size=3).map(tuple)
dtypes = st.sampled_from([np.float64, np.float32, np.int64, np.bool_])


@settings(max_examples=40, deadline=None)
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 2**16))
def test_truth_value_follows_numpy_across_shapes_and_dtypes(shape, dtype, seed):
    values = (np.random.default_rng(seed).integers(-1, 2, shape)).astype(dtype)
    t = nb.tensor(values, requires_grad=values.dtype.kind == "f")
    try:
        expected = bool(values)
    except ValueError as err:
        with pytest.raises(ValueError, match="ambiguous"):
            bool(t)
        assert "ambiguous" in str(err)
    else:
        assert bool(t) is expected and values.size == 1


def test_truth_value_refusals_match_torch():
    torch = torch_or_skip()
    for values in ([], [1.0, 2.0], np.zeros((0, 3))):
        with pytest.raises(ValueError, match="ambiguous"):
            bool(nb.tensor(values))
        with pytest.raises(RuntimeError, match="ambiguous"):
            bool(torch.tensor(np.asarray(values, dtype=float)))
    for value in ([0.0], [[2.0]], 0.0, [np.nan]):
        assert bool(nb.tensor(value)) == bool(torch.tensor(value))


def test_python_branches_on_traced_values_take_the_right_branch(rng):
    def f(x):
        if x.sum() > 0:  # a comparison of a traced value, used as a Python bool
            return nb.sum(x * x)
        return -nb.sum(x)

    positive = np.abs(rng.standard_normal(3))
    np.testing.assert_allclose(nb.grad(f)(positive), 2 * positive)
    np.testing.assert_allclose(nb.grad(f)(-positive), -np.ones(3))
    assert not nb.tensor([0.0]) and nb.tensor([[3.0]]) and not (nb.tensor(1.0) > 2)


def test_scalar_conversions_of_one_element_tensors_as_torch():
    torch = torch_or_skip()
    import operator

    for value in ([2.7], [[-2.7]], 2.7):
        theirs = torch.tensor(value, dtype=torch.float64)
        assert int(nb.tensor(value)) == int(theirs)
        assert float(nb.tensor(value)) == float(theirs)
        assert complex(nb.tensor(value)) == complex(float(theirs))
    assert operator.index(nb.tensor([3])) == operator.index(torch.tensor([3])) == 3
    assert [10, 11, 12, 13][nb.tensor(np.int64(3))] == 13
    for bad in (nb.tensor([3.0]), nb.tensor([1, 2]), nb.tensor(np.array([True]))):
        with pytest.raises(TypeError, match="only integer tensors of a single element"):
            operator.index(bad)
    with pytest.raises(TypeError, match="only integer tensors"):
        operator.index(torch.tensor([3.0]))
    for convert in (int, float, complex):
        with pytest.raises(TypeError, match="one-element"):
            convert(nb.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="one-element"):
        nb.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match="cannot convert float NaN to integer"):
        int(nb.tensor(np.nan))
    with pytest.raises(TypeError, match="len"):
        len(nb.tensor(1.0))
    with pytest.raises(TypeError, match="len"):
        len(torch.tensor(1.0))
    assert nb.tensor([[1.0, 2.0]]).tolist() == [[1.0, 2.0]] and nb.tensor(2.0).tolist() == 2.0


def test_comparison_with_unrelated_objects_is_identity_not_an_error():
    t, u = nb.tensor([1.0, 2.0]), nb.tensor([1.0, 2.0])
    assert print not in [t, u] and (t == None) is False  # noqa: E711
    assert t in [t, u]  # found by identity first
    with pytest.raises(ValueError, match="ambiguous"):
        t in [u]  # noqa: B015 - equal values elementwise: ambiguous, as in NumPy


# -- the methods a PyTorch or NumPy user types (issue 17) ----------------------------------
def _pair(rng, shape=(2, 3, 1)):
    torch = torch_or_skip()
    x = rng.standard_normal(shape)
    return x, nb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


METHODS = {
    "view": (lambda t: t.view(3, 2), lambda t: t.view(3, 2)),
    "view_tuple": (lambda t: t.view((-1,)), lambda t: t.view((-1,))),
    "reshape": (lambda t: t.reshape(1, 6), lambda t: t.reshape(1, 6)),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda t: t.unsqueeze(1)),
    "unsqueeze_end": (lambda t: t.unsqueeze(-1), lambda t: t.unsqueeze(-1)),
    "squeeze": (lambda t: t.squeeze(), lambda t: t.squeeze()),
    "squeeze_axis": (lambda t: t.squeeze(2), lambda t: t.squeeze(2)),
    "flatten": (lambda t: t.flatten(), lambda t: t.flatten()),
    "flatten_range": (lambda t: t.flatten(1, 2), lambda t: t.flatten(1, 2)),
    "flatten_front": (lambda t: t.flatten(0, 1), lambda t: t.flatten(0, 1)),
    "clamp": (lambda t: t.clamp(-0.3, 0.4), lambda t: t.clamp(-0.3, 0.4)),
    "clamp_min": (lambda t: t.clamp(min=0.0), lambda t: t.clamp(min=0.0)),
    "clip_max": (lambda t: t.clip(max=0.2), lambda t: t.clip(max=0.2)),
    "swapaxes": (lambda t: t.swapaxes(0, 2), lambda t: t.swapaxes(0, 2)),
    "copy": (lambda t: t.copy() * 2, lambda t: t.clone() * 2),
    "T_2d": (lambda t: t.reshape(2, 3).T, lambda t: t.reshape(2, 3).T),
    "mT": (lambda t: t.mT, lambda t: t.mT),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_methods_match_torch_in_value_and_gradient(name, rng):
    ours, theirs = METHODS[name]
    x, t, tt = _pair(rng)
    out, tout = ours(t), theirs(tt)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy())
    weights = rng.standard_normal(out.shape)
    (out * weights).sum().backward()
    import torch

    (tout * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy())


def test_value_methods_match_numpy_and_torch(rng):
    torch = torch_or_skip()
    x = rng.standard_normal((3, 4))
    t = nb.tensor(x, requires_grad=True)
    assert t.numel() == torch.tensor(x).numel() == 12
    assert int(t.argmax()) == x.argmax() == int(torch.tensor(x).argmax())
    np.testing.assert_array_equal(t.argmax(axis=1).numpy(), x.argmax(axis=1))
    np.testing.assert_array_equal(t.argmin(axis=0).numpy(), x.argmin(axis=0))
    assert bool((t > -10).all()) and not bool((t > 10).any())
    assert t.tolist() == x.tolist()
    copy = t.copy()
    assert copy.data is not t.data and not np.shares_memory(copy.data, t.data)
    assert t.T.shape == x.T.shape and nb.tensor(np.ones((2, 3, 4))).mT.shape == (2, 4, 3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nb.tensor([1.0]).mT
    with pytest.raises(ValueError, match="min or max"):
        t.clamp()
    check_grads(lambda v: (v.copy() ** 3).sum(), (x,), order=2)


@pytest.mark.parametrize("name", ["var", "std", "prod"])
def test_statistics_methods_call_the_op_of_the_same_name(name, rng):
    torch = torch_or_skip()
    if not hasattr(nb.ops, name):
        pytest.skip(f"nb.{name} is not merged yet")
    x = rng.uniform(0.5, 2.0, (3, 4))
    t = nb.tensor(x, requires_grad=True)
    np.testing.assert_allclose(getattr(t, name)(axis=1).numpy(), getattr(np, name)(x, axis=1))
    np.testing.assert_allclose(getattr(t, name)().numpy(), getattr(nb.ops, name)(t).numpy())
    getattr(t, name)().backward()
    tt = torch.tensor(x, requires_grad=True)
    kwargs = {} if name == "prod" else {"correction": 0}
    getattr(tt, name)(**kwargs).backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-10)
    check_grads(lambda v: getattr(v, name)(), (x,), order=2)


def test_statistics_methods_are_the_numpy_ops():
    x = np.array([[1.0, 2.0, 4.0], [0.5, -3.0, 2.0]])
    t = nb.tensor(x)
    np.testing.assert_allclose(t.var(axis=1, ddof=1).numpy(), np.var(x, axis=1, ddof=1))
    np.testing.assert_allclose(t.std().numpy(), np.std(x))
    np.testing.assert_allclose(t.prod(axis=0).numpy(), np.prod(x, axis=0))


def test_iteration_membership_and_formatting_as_numpy():
    torch = torch_or_skip()
    with pytest.raises(TypeError, match="0-d"):
        list(nb.tensor(1.0))  # not an empty sequence
    with pytest.raises(TypeError, match="0-d"):
        list(torch.tensor(1.0))
    t = nb.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(t)
    assert len(rows) == 2 and rows[1].requires_grad
    np.testing.assert_array_equal(rows[1].numpy(), [3.0, 4.0])
    assert 3.0 in t and 5.0 not in t and (3.0 in t.numpy())
    assert f"{nb.tensor(1.23456):.2f}" == f"{torch.tensor(1.23456):.2f}" == "1.23"
    with pytest.raises(TypeError):
        f"{nb.tensor([1.0, 2.0]):.2f}"
