"""Forward mode (jvp, linearize, jacfwd) by transposing the VJP: against reverse mode, finite
differences in float64, torch.func and closed forms, and on every registered primitive."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from specs_engine import ENGINE_SPECS

try:
    from specs_layers import LAYER_SPECS
except ImportError:
    LAYER_SPECS = {}

SPECS = {**ENGINE_SPECS, **LAYER_SPECS}


def _mlp(W1, W2):
    def f(x):
        return nb.tanh(W2 @ nb.tanh(W1 @ x)) * nb.sum(x ** 2)

    return f


def _central_difference(fun, x, t, eps=1e-6):
    return (np.asarray(fun(x + eps * t)) - np.asarray(fun(x - eps * t))) / (2 * eps)


def test_jvp_is_the_jacobian_times_the_tangent_and_the_finite_difference(rng):
    f = _mlp(rng.standard_normal((5, 4)), rng.standard_normal((3, 5)))
    x = rng.standard_normal(4)
    J = nb.jacobian(f)(x)
    for t in rng.standard_normal((3, 4)):
        out, pushed = nb.jvp(f, (x,), (t,))
        np.testing.assert_array_equal(out, np.asarray(f(x).data))
        np.testing.assert_allclose(pushed, J @ t, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(pushed, _central_difference(f, x, t), rtol=1e-7, atol=1e-9)


def test_jvp_in_several_arguments_is_the_sum_of_partial_products(rng):
    A, x, y = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal(2)
    tx, ty = rng.standard_normal(3), rng.standard_normal(2)

    def f(x, y):
        return nb.exp(x * (A @ y)) + x ** 3

    Jx, Jy = nb.jacobian(f, argnums=(0, 1))(x, y)
    _, pushed = nb.jvp(f, [x, y], [tx, ty])
    np.testing.assert_allclose(pushed, Jx @ tx + Jy @ ty, rtol=1e-12)


def test_jvp_matches_torch_func_jvp(rng):
    torch = pytest.importorskip("torch")
    W = rng.standard_normal((4, 6))
    x, t = rng.standard_normal(6), rng.standard_normal(6)

    def f(x):
        return nb.logsumexp(nb.tanh(W @ x), axis=0) + nb.sum(x ** 3) / 6

    Wt = torch.from_numpy(W)

    def f_torch(x):
        return torch.logsumexp(torch.tanh(Wt @ x), dim=0) + torch.sum(x ** 3) / 6

    _, want = torch.func.jvp(f_torch, (torch.from_numpy(x),), (torch.from_numpy(t),))
    np.testing.assert_allclose(nb.jvp(f, (x,), (t,))[1], want.numpy(), rtol=1e-12)
    _, want = torch.func.jvp(torch.func.grad(f_torch), (torch.from_numpy(x),),
                             (torch.from_numpy(t),))
    np.testing.assert_allclose(nb.jvp(nb.grad(f), (x,), (t,))[1], want.numpy(), rtol=1e-11)


def test_linearize_reuses_one_recording_and_is_linear(rng):
    f = _mlp(rng.standard_normal((5, 4)), rng.standard_normal((3, 5)))
    x = rng.standard_normal(4)
    out, f_jvp = nb.linearize(f, x)
    np.testing.assert_array_equal(out, f(x).data)
    a, b = rng.standard_normal(4), rng.standard_normal(4)
    np.testing.assert_allclose(f_jvp(a), nb.jvp(f, (x,), (a,))[1], rtol=1e-14)
    np.testing.assert_allclose(f_jvp(2 * a - 3 * b), 2 * f_jvp(a) - 3 * f_jvp(b),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape", [(4,), (2, 3), ()])
def test_jacfwd_equals_jacrev(rng, shape, monkeypatch):
    x = rng.standard_normal(shape)

    def f(x):
        return nb.stack([nb.sum(nb.exp(x) * x), nb.sum(nb.tanh(x)) ** 2, nb.sum(x)])

    want = nb.jacrev(f)(x)
    np.testing.assert_allclose(nb.jacfwd(f)(x), want, rtol=1e-13, atol=1e-15)
    from nablanet.autodiff import transforms

    monkeypatch.setattr(transforms, "_JACOBIAN_CHUNK", 1)  # one tangent per pass
    monkeypatch.setattr(transforms, "_MIN_ROWS", 1)
    np.testing.assert_allclose(nb.jacfwd(f)(x), want, rtol=1e-13, atol=1e-15)


def test_jacfwd_of_several_arguments_and_float32(rng):
    x, y = rng.standard_normal(3), rng.standard_normal((2, 3))
    f = lambda x, y: nb.tanh(y @ x) * x[0]  # noqa: E731
    for got, want in zip(nb.jacfwd(f, argnums=(0, 1))(x, y), nb.jacrev(f, argnums=(0, 1))(x, y),
                         strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    x32 = x.astype(np.float32)
    assert nb.jacfwd(lambda x: nb.tanh(x) * 2)(x32).dtype == np.float32


def test_forward_over_reverse_gives_hessians_and_hvps(rng):
    A = rng.standard_normal((4, 4))

    def f(x):
        return nb.sum(nb.tanh(A @ x) ** 2) + nb.sum(x ** 4) / 4

    x, v = rng.standard_normal(4), rng.standard_normal(4)
    H = nb.hessian(f)(x)
    np.testing.assert_allclose(nb.jacfwd(nb.grad(f))(x), H, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nb.jvp(nb.grad(f), (x,), (v,))[1], H @ v, rtol=1e-12)
    np.testing.assert_allclose(nb.jacfwd(nb.jacfwd(f))(x), H, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nb.jacrev(nb.jacfwd(f))(x), H, rtol=1e-12, atol=1e-14)


def test_higher_orders_through_forward_mode():
    x, t = np.array([0.5, -1.5]), np.array([2.0, 3.0])
    quartic = lambda y: nb.sum(y ** 4)  # noqa: E731
    # d/dx of the directional derivative sum(4 x^3 t) is 12 x^2 t
    third = nb.grad(lambda x: nb.sum(nb.jvp(quartic, (x,), (t,))[1]))(x)
    np.testing.assert_allclose(third, 12 * x ** 2 * t)
    # the second directional derivative of sum(x^4) along t: 12 x^2 t^2
    second = nb.jvp(lambda x: nb.jvp(quartic, (x,), (t,))[1], (x,), (t,))[1]
    np.testing.assert_allclose(second, np.sum(12 * x ** 2 * t ** 2))
    # the Jacobian of a jvp in its tangent is the Jacobian itself
    J = nb.jacobian(lambda u: nb.jvp(lambda y: y ** 3, (x,), (u,))[1])(t)
    np.testing.assert_allclose(J, np.diag(3 * x ** 2))


def test_function_independent_of_its_input_has_zero_tangent():
    out, pushed = nb.jvp(lambda x: nb.tensor([1.0, 2.0]), (np.ones(3),), (np.ones(3),))
    np.testing.assert_array_equal(pushed, np.zeros(2))
    np.testing.assert_array_equal(nb.jacfwd(lambda x: np.ones(2))(np.ones(3)), np.zeros((2, 3)))


def test_bad_primals_and_tangents_are_clear_errors():
    f = lambda x: x * 2  # noqa: E731
    with pytest.raises(TypeError, match=r"primals must be a tuple or list.*jvp\(f, \(x,\)"):
        nb.jvp(f, np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(3,\), expected \(2,\)"):
        nb.jvp(f, (np.ones(2),), (np.ones(3),))
    with pytest.raises(ValueError, match="tangents have structure"):
        nb.jvp(f, (np.ones(2),), (np.ones(2), np.ones(2)))
    with pytest.raises(TypeError, match="dtype int64; differentiation needs floating-point"):
        nb.jvp(f, (np.arange(2),), (np.ones(2),))
    np.testing.assert_array_equal(nb.jacfwd(lambda x: np.arange(2))(np.ones(3)), np.zeros((2, 3)))
    # an integer tangent is a direction like any other
    np.testing.assert_array_equal(nb.jvp(f, (np.ones(2),), (np.array([1, 2]),))[1], [2.0, 4.0])


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(0, 2 ** 16))
def test_random_shapes_jvp_equals_the_vjp_based_jacobian(shape, seed):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    b = rng.standard_normal(shape[-1:])  # broadcast along the last axis

    def f(x):
        return nb.exp(nb.tanh(x) * b) + nb.sum(x * x, axis=-1, keepdims=True)

    J = nb.jacobian(f)(x)
    n = x.size
    want = J.reshape(-1, n) @ t.reshape(n)
    np.testing.assert_allclose(np.ravel(nb.jvp(f, (x,), (t,))[1]), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nb.jacfwd(f)(x), J, rtol=1e-12, atol=1e-14)


# -- the registry walk: forward mode of every primitive --------------------------------
def _float_argnums(args):
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_primitive_forward_mode_equals_reverse_mode(name):
    # jvp along a random direction, jointly in all float arguments, against J t from
    # reverse mode; then once more for the primitive's VJP (its recorded backward pass)
    fun, args = SPECS[name](np.random.default_rng(0))
    nums = tuple(_float_argnums(args))
    if not nums:
        pytest.skip("no floating-point argument")
    rng = np.random.default_rng(1)
    tangents = [rng.standard_normal(np.shape(args[i])) for i in nums]

    def of(*xs):
        call = list(args)
        for i, x in zip(nums, xs, strict=True):
            call[i] = x
        return fun(*call)

    primals = [args[i] for i in nums]
    jacs = nb.jacobian(of, argnums=tuple(range(len(nums))))(*primals)
    want = sum(np.tensordot(J, t, axes=t.ndim) for J, t in zip(jacs, tangents, strict=True))
    np.testing.assert_allclose(nb.jvp(of, primals, tangents)[1], want, rtol=1e-10, atol=1e-12)
    u = rng.standard_normal(np.shape(np.asarray(of(*primals))))

    def pulled(*xs):
        return nb.vjp(of, *xs)[1](u)

    jacs = nb.jacobian(pulled, argnums=tuple(range(len(nums))))(*primals)
    pushed = nb.jvp(pulled, primals, tangents)[1]
    for k, per_out in enumerate(jacs):
        want = sum(np.tensordot(J, t, axes=t.ndim) for J, t in zip(per_out, tangents,
                                                                       strict=True))
        np.testing.assert_allclose(pushed[k], want, rtol=1e-9, atol=1e-11)


def test_jvp_of_a_holomorphic_function_of_complex_input():
    z = np.array([1 + 1j, 2 - 1j])
    t = np.array([0.5 + 0.2j, 1 - 1j])
    out, pushed = nb.jvp(lambda z: z * z * (1 + 2j), (z,), (t,))
    np.testing.assert_allclose(pushed, 2 * z * t * (1 + 2j), rtol=1e-14)
    np.testing.assert_allclose(nb.jacfwd(lambda z: z * z)(z), np.diag(2 * z), rtol=1e-14)
