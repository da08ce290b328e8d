"""NumPy on Tensors: nablanet's op where it has one, a refusal where a gradient would be lost."""

import threading

import numpy as np
import pytest

import nablanet as nb
from conftest import torch_or_skip
from nablanet.autodiff import mode
from nablanet.checks import check_grads

DETACH = r"detach\(\)"


def test_np_dot_under_grad_is_the_gradient_not_zeros(rng):
    x = rng.standard_normal(4)
    np.testing.assert_allclose(nb.grad(lambda v: np.dot(v, v))(x), 2 * x)


# (NumPy call, a second argument) differentiated through NumPy's own names
NUMPY_CALLS = {
    "exp": lambda x: np.exp(x),
    "tanh": lambda x: np.tanh(x),
    "sqrt_abs": lambda x: np.sqrt(np.abs(x) + 1.0),
    "log1p_square": lambda x: np.log1p(np.square(x)),
    "sum_axis": lambda x: np.sum(x * x, axis=0),
    "mean_keepdims": lambda x: np.mean(x, axis=1, keepdims=True) * x,
    "max": lambda x: np.max(x, axis=1),
    "amax": lambda x: np.amax(x),
    "maximum": lambda x: np.maximum(x, 0.1),
    "matmul": lambda x: np.matmul(x, x.T),
    "dot_2d": lambda x: np.dot(x.T, x),
    "transpose": lambda x: np.transpose(x, (1, 0)) * 2.0,
    "reshape": lambda x: np.reshape(x, (-1,)) ** 2,
    "concatenate": lambda x: np.concatenate((x, x * 2), 1),
    "concatenate_flat": lambda x: np.concatenate([x, x], axis=None),
    "stack": lambda x: np.stack([x, x * x], axis=-1),
    "take_flat": lambda x: np.take(x, [0, 5, 5]),
    "take_axis": lambda x: np.take(x, [2, 0], axis=1),
    "where": lambda x: np.where(x > 0, x, x * x),
    "clip": lambda x: np.clip(x, -0.5, 0.5),
    "squeeze": lambda x: np.squeeze(np.expand_dims(x, 0), 0),
    "swapaxes": lambda x: np.swapaxes(x, 0, 1) * 1.5,
    "diagonal": lambda x: np.diagonal(x @ x.T),
    "vdot": lambda x: np.vdot(x, x.T.copy()),
    "outer": lambda x: np.outer(x, x),
    "ndarray_operators": lambda x: np.ones(3) - x * np.arange(3.0) / (np.ones(3) + x ** 2),
    "negative": lambda x: np.negative(x) + np.positive(x) * 3,
}


@pytest.mark.parametrize("name", sorted(NUMPY_CALLS))
def test_numpy_functions_on_tensors_keep_the_graph(name, rng):
    fun = NUMPY_CALLS[name]
    x = rng.standard_normal((2, 3))
    out = fun(nb.tensor(x, requires_grad=True))
    assert isinstance(out, nb.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.numpy(), fun(x), rtol=1e-12)
    check_grads(lambda v: nb.sum(fun(v) * np.cos(np.arange(fun(x).size)).reshape(fun(x).shape)),
                (x,), order=2)


def test_numpy_functions_match_torch_gradients(rng):
    torch = torch_or_skip()
    x = rng.standard_normal((3, 3))
    g = nb.grad(lambda v: np.sum(np.tanh(np.matmul(v, v)) * np.exp(v)))(x)
    tx = torch.tensor(x, requires_grad=True)
    (torch.tanh(tx @ tx) * torch.exp(tx)).sum().backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12)


def test_without_grad_numpy_functions_give_numpy_values(rng):
    x = rng.standard_normal(5)
    t = nb.tensor(x)
    median = np.median(t)  # nablanet has no median: NumPy's, on the values
    assert median == np.median(x)
    assert isinstance(np.exp(t), nb.Tensor)  # nablanet's op, as with grad
    np.testing.assert_allclose(np.exp(t).numpy(), np.exp(x))


@pytest.mark.parametrize("call", [
    lambda t: np.median(t),
    lambda t: np.fft.fft(t),
    lambda t: np.add.reduce(t),
    lambda t: np.sum(t, dtype=np.float32),
    lambda t: np.exp(t, dtype=np.float64),
    lambda t: np.array([t[0], t[1]]),
    lambda t: np.asarray(t),
    lambda t: np.percentile(t, 50),
])
def test_numpy_calls_that_would_drop_a_gradient_refuse(call):
    t = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(TypeError, match=DETACH):
        call(t)
    call(t.detach())  # the values alone are fine


def test_refusal_names_nablanets_op_when_its_arguments_differ():
    t = nb.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="nablanet's sum does not take these arguments"):
        np.sum(t, dtype=np.float32)
    with pytest.raises(TypeError, match="dot is matmul"):
        np.dot(nb.tensor(np.ones((2, 2, 2)), requires_grad=True), np.ones((2, 2)))


def test_results_without_floats_carry_no_gradient_and_are_allowed():
    t = nb.tensor([1.0, np.nan, -2.0], requires_grad=True)
    np.testing.assert_array_equal(np.isnan(t), [False, True, False])
    assert np.argmax(np.nan_to_num(t.detach())) == 0
    assert np.shape(t) == (3,) and np.ndim(t) == 1 and np.size(t) == 3
    assert np.zeros_like(t).shape == (3,)
    assert not np.allclose(t, 0.0)
    assert np.argsort(np.array([3.0, 1.0])).tolist() == [1, 0]


def test_ndarray_operators_go_to_the_tensors_reflected_operators():
    t = nb.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 1.0])
    for out, expected in [(a + t, a + t.numpy()), (a - t, a - t.numpy()), (a * t, a * t.numpy()),
                          (a / t, a / t.numpy()), (a ** t, a ** t.numpy()),
                          (np.float64(2.0) * t, 2 * t.numpy())]:
        assert isinstance(out, nb.Tensor) and out.requires_grad
        np.testing.assert_allclose(out.numpy(), expected)
    for out, expected in [(a < t, [False, True]), (a >= t, [True, False]), (a == t, [0, 0])]:
        assert isinstance(out, nb.Tensor) and out.dtype == bool
        np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_allclose(nb.grad(lambda v: nb.sum(a * v - a / v))(np.ones(2)), a + a)


def test_in_place_numpy_writes_from_or_into_tensors():
    t = nb.tensor([1.0, 2.0], requires_grad=True)
    a = np.zeros(2)
    with pytest.raises(TypeError, match=DETACH):
        a += t
    with pytest.raises(TypeError, match=DETACH):
        np.copyto(a, t)
    a += t.detach()
    np.testing.assert_array_equal(a, [1.0, 2.0])
    c = nb.tensor([1.0, 1.0])
    assert np.add(c, 1.0, out=c) is c and c._version == 1
    np.testing.assert_array_equal(c.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="requires grad"):
        np.multiply(t, 2.0, out=t)


def test_linalg_functions_dispatch_or_refuse(rng):
    x = rng.standard_normal(3)
    try:
        from nablanet import linalg
    except ImportError:
        linalg = None
    if linalg is not None and hasattr(linalg, "norm"):
        np.testing.assert_allclose(nb.grad(lambda v: np.linalg.norm(v))(x),
                                   x / np.linalg.norm(x))
    else:
        with pytest.raises(TypeError, match=DETACH):
            nb.grad(lambda v: np.linalg.norm(v))(x)
    assert np.linalg.norm(nb.tensor(x)) == pytest.approx(np.linalg.norm(x))


def test_array_protocol_shares_copies_and_converts():
    t = nb.tensor([1.0, 2.0])
    assert np.asarray(t) is t.numpy()
    assert np.array(t, copy=True) is not t.numpy()
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="copy"):
        np.asarray(t, dtype=np.float32, copy=False)
    w = nb.tensor([1.0], requires_grad=True)
    assert float(w) == 1.0 and w.item() == 1.0 and w.tolist() == [1.0]  # as in PyTorch
    with pytest.raises(TypeError, match=DETACH):
        np.asarray(w)


def test_torch_refuses_the_same_conversion():
    torch = torch_or_skip()
    with pytest.raises(RuntimeError, match="detach"):
        torch.tensor([1.0], requires_grad=True).numpy()


# -- .data is always an ndarray -------------------------------------------------------
@pytest.mark.parametrize("fun", [
    lambda w: w * w,
    lambda w: nb.sum(w * 3.0),
    lambda w: nb.exp(w) + nb.tanh(w),
    lambda w: nb.mean(nb.reshape(w, (1, 1))) * w,
    lambda w: nb.maximum(w, 0.5) - nb.clip(w, -1.0, 1.0),
])
def test_zero_d_values_and_gradients_are_ndarrays(fun):
    w = nb.tensor(np.float64(0.7), requires_grad=True)
    for _ in range(2):  # the second backward accumulates into .grad
        out = fun(w)
        assert type(out.data) is np.ndarray
        out.backward()
        assert type(w.grad.data) is np.ndarray
        assert np.asarray(w.grad).shape == ()
    with nb.no_grad():
        assert type(fun(w).data) is np.ndarray
    assert type(nb.Tensor(np.float32(1.0)).data) is np.ndarray


def test_optimiser_steps_keep_zero_d_parameters_ndarrays():
    from nablanet import optim

    w = nb.tensor(0.5, requires_grad=True)
    for opt in (optim.SGD([w], lr=0.1, momentum=0.9), optim.Adam([w], lr=0.1)):
        opt.zero_grad()
        (w * w).backward()
        opt.step()
        assert type(w.data) is np.ndarray and type(w.grad.data) is np.ndarray


# -- the value-observation hook -------------------------------------------------------
def test_observers_see_every_value_read_out():
    t = nb.tensor([2.0])
    i = nb.tensor(np.array([3]))
    seen = []
    reads = [bool, float, int, lambda v: v.item(), lambda v: v.tolist(), np.asarray,
             lambda v: bool(v.sum() > 0), lambda v: [0, 1, 2, 3][i], np.median]
    with mode.observing(seen.append):
        for read in reads:
            read(t)
    assert len(seen) == len(reads)
    assert seen[7] is i and all(s is t for k, s in enumerate(seen) if k not in (6, 7))
    bool(t)
    assert len(seen) == len(reads)  # none after the block


def test_observers_nest_and_are_per_thread():
    outer, inner, other = [], [], []
    t = nb.tensor(1.0)
    with mode.observing(outer.append):
        with mode.observing(inner.append):
            float(t)
        float(t)

        def elsewhere():
            with mode.observing(other.append):
                pass
            float(t)

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert len(outer) == 2 and len(inner) == 1 and other == []
    assert mode._OBSERVERS == {}
