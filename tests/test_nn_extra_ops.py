"""The primitives and compositions of ``nablanet.ops.nn_extra``: derivatives to order 3,
numerics at the edges, and agreement with PyTorch 2.13 in float64 (to 1e-10)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet.checks import check_grads
from nablanet.nn import functional as F
from nablanet.ops import nn_extra
from specs_nn_extra import EXTRA_CASES, NN_EXTRA_SPECS, NON_DIFFERENTIABLE

TOL = dict(rtol=1e-10, atol=1e-10)
EDGES = np.array([-np.inf, -1e4, -50.0, -10.0, -1.0, 0.0, 1.0, 10.0, 50.0, 1e4, np.inf])

ACTIVATIONS = {
    "gelu": lambda x: nn_extra.gelu(x),
    "gelu_tanh": lambda x: nn_extra.gelu(x, "tanh"),
    "elu": lambda x: nn_extra.elu(x, 0.7),
    "selu": nn_extra.selu,
    "silu": nn_extra.silu,
}


def _torch_activations(torch):
    f = torch.nn.functional
    return {
        "gelu": f.gelu,
        "gelu_tanh": lambda x: f.gelu(x, approximate="tanh"),
        "elu": lambda x: f.elu(x, 0.7),
        "selu": f.selu,
        "silu": f.silu,
    }


def _away_from_zero(rng, shape, scale=2.0):
    x = scale * rng.standard_normal(shape)
    return x + np.sign(x) * 0.1


# -- derivatives ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted({**NN_EXTRA_SPECS, **EXTRA_CASES}))
def test_specs_pass_check_grads_to_order_3(name):
    fun, args = {**NN_EXTRA_SPECS, **EXTRA_CASES}[name](np.random.default_rng(0))
    check_grads(fun, args, order=3)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_check_grads_order_2(name, rng):
    check_grads(ACTIVATIONS[name], [_away_from_zero(rng, (4, 3))], order=2)


def test_layer_norm_check_grads_jointly_order_2(rng):
    x = rng.standard_normal((3, 2, 4))
    w, b = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    check_grads(lambda x, w, b: nn_extra.layer_norm(x, (2, 4), w, b, eps=1e-3), [x, w, b],
                order=2)


def test_linear_on_leading_axes_check_grads_order_2(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    check_grads(lambda x, w, b: nn_extra.linear(x, w, b) ** 2, [x, w, b], order=2)
    check_grads(lambda x, w: nn_extra.linear(x, w) ** 2, [x[0, 0], w], order=2)


# -- numerics at the edges --------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_finite_where_the_maths_is(name):
    x = nb.tensor(EDGES, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warnings either
        y = ACTIVATIONS[name](x)
        (g,) = nb.grad(lambda t: nb.sum(ACTIVATIONS[name](t)))(EDGES),
        h = nb.grad(lambda t: nb.sum(nb.grad(lambda u: nb.sum(ACTIVATIONS[name](u)))(t)))(
            EDGES[1:-1])
    finite = y.numpy()[1:-1]
    assert np.all(np.isfinite(finite)) and np.all(np.isfinite(g[1:-1]))
    assert np.all(np.isfinite(h))
    if name.startswith("gelu") or name == "silu":
        # limits: f(-inf) = 0, f(inf) = inf; slopes 0 and 1
        np.testing.assert_array_equal(y.numpy()[[0, -1]], [0.0, np.inf])
    if name.startswith("gelu"):
        np.testing.assert_array_equal(g[[0, 1, -2, -1]], [0.0, 0.0, 1.0, 1.0])


def test_gelu_negative_tail_keeps_relative_precision():
    # x Phi(x) at x = -10 is -7.62e-23: 1 + erf(x / sqrt 2) would round it to 0
    from scipy.special import ndtr

    x = np.array([-10.0, -20.0])
    np.testing.assert_allclose(nn_extra.gelu(x), x * ndtr(x), rtol=1e-14)
    assert np.all(nn_extra.gelu(x) < 0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3)])
def test_zero_dimensional_and_empty(name, shape):
    x = np.full(shape, 0.5)
    y = ACTIVATIONS[name](x)
    assert np.shape(y) == shape
    g = nb.grad(lambda t: nb.sum(ACTIVATIONS[name](t)))(x)
    assert np.shape(g) == shape
    limits = [float(np.asarray(ACTIVATIONS[name](np.array(v)))) for v in (-np.inf, np.inf)]
    assert np.isfinite(limits[0]) and limits[1] == np.inf


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_stays_float32_and_integers_become_float64(name):
    x32 = np.array([-1.5, 0.5, 3.0], dtype=np.float32)
    assert np.asarray(ACTIVATIONS[name](x32)).dtype == np.float32
    g = nb.grad(lambda t: nb.sum(ACTIVATIONS[name](t)))(x32)
    assert g.dtype == np.float32
    out = np.asarray(ACTIVATIONS[name](np.array([-2, 0, 3])))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, ACTIVATIONS[name](np.array([-2.0, 0.0, 3.0])))


def test_gelu_rejects_an_unknown_approximation():
    with pytest.raises(ValueError, match="'none' or 'tanh'"):
        nn_extra.gelu(np.ones(2), "erf")


def test_layer_norm_shape_errors_name_the_expectation():
    with pytest.raises(ValueError, match=r"\[4\] expects input of shape \(\*, 4\)"):
        nn_extra.layer_norm(np.ones((2, 3)), 4)
    with pytest.raises(ValueError, match="weight must have shape"):
        nn_extra.layer_norm(np.ones((2, 3)), 3, weight=np.ones(2))


def test_layer_norm_is_finite_for_large_and_constant_rows():
    x = np.array([[1e4, -1e4, 0.0], [5.0, 5.0, 5.0]])
    y = nn_extra.layer_norm(x, 3)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[1], 0.0)  # constant row: x - mean = 0 exactly


def test_linear_rejects_a_wrong_width_and_zero_dimensional_input():
    with pytest.raises(ValueError, match=r"\(\*, 4\)"):
        nn_extra.linear(np.ones((2, 3, 5)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"\(\*, 4\)"):
        nn_extra.linear(np.float64(1.0), np.ones((2, 4)))


@settings(max_examples=15, deadline=None)
@given(lead=st.lists(st.integers(0, 3), max_size=3), n_in=st.integers(1, 4),
       n_out=st.integers(1, 3))
def test_linear_any_leading_shape_matches_einsum(lead, n_in, n_out):
    rng = np.random.default_rng(len(lead) * 7 + n_in)
    x = rng.standard_normal((*lead, n_in))
    w, b = rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    y = nn_extra.linear(x, w, b)
    assert y.shape == (*lead, n_out)
    np.testing.assert_allclose(y, np.einsum("...i,oi->...o", x, w) + b, rtol=1e-12, atol=1e-12)
    gw = nb.grad(lambda w: nb.sum(nn_extra.linear(x, w, b) ** 2))(w)
    resid = np.einsum("...i,oi->...o", x, w) + b
    want = 2 * resid.reshape(-1, n_out).T @ x.reshape(-1, n_in)
    np.testing.assert_allclose(gw, want, rtol=1e-10, atol=1e-10)


# -- PyTorch ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch_to_second_order(name, rng):
    torch = pytest.importorskip("torch")
    x = np.concatenate([_away_from_zero(rng, 20, scale=3.0), [-30.0, -8.0, 8.0, 30.0]])
    xt = torch.tensor(x, requires_grad=True)
    yt = _torch_activations(torch)[name](xt)
    (gt,) = torch.autograd.grad(yt.sum(), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    ours = ACTIVATIONS[name]
    np.testing.assert_allclose(ours(x), yt.detach().numpy(), **TOL)
    grad = nb.grad(lambda t: nb.sum(ours(t)))
    np.testing.assert_allclose(grad(x), gt.detach().numpy(), **TOL)
    np.testing.assert_allclose(nb.grad(lambda t: nb.sum(grad(t)))(x), ht.numpy(), **TOL)


def test_elu_derivative_at_zero_is_alpha_as_torch():
    torch = pytest.importorskip("torch")
    xt = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.elu(xt, 0.3).sum().backward()
    ours = nb.grad(lambda t: nb.sum(nn_extra.elu(t, 0.3)))(np.zeros(1))
    np.testing.assert_array_equal(ours, xt.grad.numpy())


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_hessian_matches_torch(affine, rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((2, 5)), rng.standard_normal(5), rng.standard_normal(5)
    up = rng.standard_normal((2, 5))

    def torch_loss(x):
        y = torch.nn.functional.layer_norm(x, (5,), torch.tensor(w) if affine else None,
                                           torch.tensor(b) if affine else None, 1e-5)
        return (torch.tensor(up) * y ** 2).sum()

    def our_loss(x):
        y = F.layer_norm(x, (5,), w if affine else None, b if affine else None, 1e-5)
        return nb.sum(up * y ** 2)

    hessian_t = torch.autograd.functional.hessian(torch_loss, torch.tensor(x))
    np.testing.assert_allclose(nb.hessian(our_loss)(x), hessian_t.numpy(), **TOL)


def test_linear_jacobian_and_hessian_through_leading_axes_match_torch(rng):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)

    def torch_f(w):
        return torch.tanh(torch.nn.functional.linear(torch.tensor(x), w, torch.tensor(b)))

    def our_f(w):
        return nb.tanh(F.linear(x, w, b))

    jac_t = torch.autograd.functional.jacobian(torch_f, torch.tensor(w))
    np.testing.assert_allclose(nb.jacobian(our_f)(w), jac_t.numpy(), **TOL)
    hess_t = torch.autograd.functional.hessian(lambda w: (torch_f(w) ** 2).sum(),
                                               torch.tensor(w))
    np.testing.assert_allclose(nb.hessian(lambda w: nb.sum(our_f(w) ** 2))(w), hess_t.numpy(),
                               **TOL)


def test_functional_softmax_takes_dim_and_warns_without_it(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4))
    for dim in (0, 1, -1):
        np.testing.assert_allclose(F.softmax(x, dim=dim),
                                   torch.softmax(torch.tensor(x), dim).numpy(), **TOL)
        np.testing.assert_allclose(F.log_softmax(x, dim),
                                   torch.log_softmax(torch.tensor(x), dim).numpy(), **TOL)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        implicit = F.softmax(x)  # PyTorch's legacy choice for 3-D input: dim 0
    with pytest.warns(UserWarning):
        theirs = torch.nn.functional.softmax(torch.tensor(x))
    np.testing.assert_allclose(implicit, theirs.numpy(), **TOL)
    assert F.softmax(x.astype(np.float32), dim=-1, dtype=np.float64).dtype == np.float64


def test_layer_norm_statistics_step_is_the_plain_numpy_one(rng):
    from nablanet.autodiff import REGISTRY

    x = rng.standard_normal((3, 2, 4)) * 5 + 2
    inv_std, xhat = REGISTRY["layer_norm_statistics"](x, (-2, -1), 1e-5)
    var = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(var + 1e-5), rtol=1e-13)
    np.testing.assert_allclose(xhat, (x - x.mean(axis=(1, 2), keepdims=True)) * inv_std,
                               rtol=1e-12, atol=1e-13)
    assert not REGISTRY["layer_norm_statistics"].differentiable


def test_layer_norm_integer_float32_and_batched_cotangents(rng):
    out = nn_extra.layer_norm(np.array([[1, 2, 3]]), 3)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, nn_extra.layer_norm(np.array([[1.0, 2.0, 3.0]]), 3))
    x32 = rng.standard_normal((2, 3)).astype(np.float32)
    assert nn_extra.layer_norm(x32, 3, np.ones(3, np.float32)).dtype == np.float32
    w = rng.standard_normal(3)
    jac = nb.jacobian(lambda w: nn_extra.layer_norm(x32.astype(float), 3, w))(w)
    assert jac.shape == (2, 3, 3)
    xhat = nn_extra.layer_norm(x32.astype(float), 3)
    np.testing.assert_allclose(jac, np.einsum("ij,jk->ijk", xhat, np.eye(3)), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable_steps_record_nothing(name):
    # what the registry walk asks of every NON_DIFFERENTIABLE entry
    fun, args = NON_DIFFERENTIABLE[name](np.random.default_rng(0))
    assert not fun(nb.tensor(args[0], requires_grad=True)).requires_grad
    np.testing.assert_array_equal(nb.grad(lambda x: nb.sum(fun(x) * x))(args[0]), fun(args[0]))
    np.testing.assert_array_equal(nb.jacobian(fun)(args[0]), np.zeros(args[0].shape * 2))
