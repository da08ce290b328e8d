"""NumPy's API: forward values equal NumPy's, closed-form derivatives, extremes, errors.

Float inputs only: integer and boolean inputs are promoted by ``Primitive.__call__``
(engine-ops), not here.
"""

import warnings

import numpy as np
import pytest

import nablanet as nb

UNARY = {
    "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.4, 1.4), "arcsin": (-1, 1), "arccos": (-1, 1),
    "arctan": (-5, 5), "sinh": (-5, 5), "cosh": (-5, 5), "arcsinh": (-5, 5),
    "arccosh": (1, 5), "arctanh": (-0.99, 0.99), "log2": (0.1, 5), "log10": (0.1, 5),
    "exp2": (-5, 5), "reciprocal": (0.2, 5), "sinc": (-3, 3), "floor": (-3, 3),
    "ceil": (-3, 3), "trunc": (-3, 3), "rint": (-3, 3), "deg2rad": (-360, 360),
    "rad2deg": (-7, 7), "cbrt": (-8, 8),
}
BINARY = ["arctan2", "logaddexp", "logaddexp2", "hypot", "mod", "fmod"]


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(), (0,), (3, 4)])
def test_unary_values_equal_numpy(name, shape, rng):
    low, high = UNARY[name]
    x = rng.uniform(low, high, shape)
    np.testing.assert_allclose(getattr(nb, name)(x), getattr(np, name)(x), rtol=1e-15)
    out = getattr(nb, name)(nb.tensor(x, requires_grad=True))
    assert out.shape == np.shape(getattr(np, name)(x))


@pytest.mark.parametrize("name", BINARY)
def test_binary_values_equal_numpy_with_broadcasting(name, rng):
    x, y = rng.uniform(0.5, 3, (3, 1, 4)), rng.uniform(0.5, 3, (2, 1))
    np.testing.assert_allclose(getattr(nb, name)(x, y), getattr(np, name)(x, y), rtol=1e-15)


def test_round_has_numpy_semantics_and_zero_gradient():
    x = np.array([0.5, 1.5, 2.25, -1.35])
    np.testing.assert_array_equal(nb.round(x, 1), np.round(x, 1))
    for name in ("floor", "ceil", "round", "trunc", "rint"):
        grad = nb.grad(lambda z, f=getattr(nb, name): nb.sum(f(z) * z))(x)
        np.testing.assert_array_equal(grad, getattr(np, name)(x))  # d(f(z) z) = f(z): f' = 0


def test_logaddexp_is_finite_at_large_magnitudes():
    x = np.array([1e4, -1e4, 0.0, -np.inf])
    y = np.array([1e4 - 1.0, 1e4, -1e4, 0.0])
    gx = nb.grad(lambda a: nb.sum(nb.logaddexp(a, y)))(x)
    gy = nb.grad(lambda b: nb.sum(nb.logaddexp(x, b)))(y)
    assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))
    e = 1 / (1 + np.exp(-1.0))
    np.testing.assert_allclose(gx, [e, 0.0, 1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(gx + gy, 1.0)


def test_hypot_gradient_at_the_origin_is_zero():
    g = nb.grad(lambda a: nb.sum(nb.hypot(a, np.zeros(2))))(np.zeros(2))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_sinc_derivatives_at_zero():
    first = nb.grad(lambda x: nb.sinc(x))(np.array(0.0))
    second = nb.grad(nb.grad(lambda x: nb.sinc(x)))(np.array(0.0))
    assert first == 0.0
    np.testing.assert_allclose(second, -np.pi ** 2 / 3, rtol=1e-12)


def test_nan_to_num_values_and_gradient():
    x = np.array([np.nan, np.inf, -np.inf, 2.0])
    np.testing.assert_array_equal(nb.nan_to_num(x, nan=1.0), np.nan_to_num(x, nan=1.0))
    g = nb.grad(lambda a: nb.sum(nb.nan_to_num(a, posinf=5.0, neginf=-5.0) * 3.0))(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 3.0])


# -- products and scans ------------------------------------------------------------------------
def _others(x):
    return np.array([np.prod(np.delete(x, i)) for i in range(len(x))])


@pytest.mark.parametrize("x", [[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0, 5.0]])
def test_prod_gradient_is_the_product_of_the_others(x):
    x = np.array(x)
    assert nb.prod(x) == np.prod(x)
    np.testing.assert_array_equal(nb.grad(nb.prod)(x), _others(x))


def test_prod_hessian_with_a_zero_is_exact():
    x = np.array([0.0, 3.0, 5.0, 2.0])
    hess = nb.hessian(nb.prod)(x)
    expected = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(4)]
                         for i in range(4)])
    np.testing.assert_allclose(hess, expected, rtol=1e-14)


def test_cumprod_matches_numpy_and_its_gradient_at_zeros():
    x = np.array([[2.0, 0.0, 3.0, 0.5], [1.5, -2.0, 0.0, 0.0]])
    np.testing.assert_allclose(nb.cumprod(nb.tensor(x, requires_grad=True), axis=1).data,
                               np.cumprod(x, axis=1), rtol=1e-15)
    np.testing.assert_array_equal(nb.cumprod(x, axis=1), np.cumprod(x, axis=1))
    u = np.arange(1.0, 9.0).reshape(2, 4)
    g = nb.grad(lambda a: nb.sum(nb.cumprod(a, axis=1) * u))(x)
    expected = np.zeros_like(x)
    for r in range(2):
        for i in range(4):
            for k in range(i, 4):
                expected[r, i] += u[r, k] * np.prod(np.delete(x[r, : k + 1], i))
    np.testing.assert_allclose(g, expected, rtol=1e-14)


def test_cumsum_gradient_is_the_reversed_cumulative_sum(rng):
    u = rng.standard_normal(5)
    g = nb.grad(lambda a: nb.sum(nb.cumsum(a) * u))(rng.standard_normal(5))
    np.testing.assert_allclose(g, np.cumsum(u[::-1])[::-1])


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2)])
def test_var_and_std_match_numpy(ddof, axis, rng):
    x = rng.standard_normal((3, 4, 5))
    for keepdims in (False, True):
        np.testing.assert_allclose(nb.var(x, axis=axis, ddof=ddof, keepdims=keepdims),
                                   np.var(x, axis=axis, ddof=ddof, keepdims=keepdims))
        np.testing.assert_allclose(nb.std(x, axis=axis, ddof=ddof, keepdims=keepdims),
                                   np.std(x, axis=axis, ddof=ddof, keepdims=keepdims))


def test_var_with_no_degrees_of_freedom_warns_as_numpy():
    with pytest.warns(RuntimeWarning):
        out = nb.var(np.array([1.0, 2.0]), ddof=2)
    assert np.isinf(out) or np.isnan(out)


def test_average_ptp_nansum_nanmean_match_numpy(rng):
    x = rng.standard_normal((3, 4))
    w = rng.uniform(0.5, 2, 4)
    np.testing.assert_allclose(nb.average(x, axis=1, weights=w), np.average(x, axis=1, weights=w))
    np.testing.assert_allclose(nb.average(x, weights=np.abs(x)), np.average(x, weights=np.abs(x)))
    np.testing.assert_allclose(nb.ptp(x, axis=0), np.ptp(x, axis=0))
    x[1, 2] = np.nan
    np.testing.assert_allclose(nb.nansum(x, axis=1), np.nansum(x, axis=1))
    np.testing.assert_allclose(nb.nanmean(x, axis=0), np.nanmean(x, axis=0))
    g = nb.grad(lambda a: nb.nanmean(a))(x)
    assert g[1, 2] == 0.0 and np.allclose(np.delete(g.ravel(), 6), 1 / 11)


def test_average_with_zero_weights_refuses():
    with pytest.raises(ZeroDivisionError, match="sum to zero"):
        nb.average(np.ones(3), weights=np.zeros(3))


def test_sort_values_and_gradient_follow_the_permutation(rng):
    x = rng.permutation(6).astype(float)
    np.testing.assert_array_equal(nb.sort(x), np.sort(x))
    g = nb.grad(lambda a: nb.sum(nb.sort(a) * np.arange(6.0)))(x)
    np.testing.assert_array_equal(g, x)  # the value of rank r gets weight r


def test_arg_functions_and_truth_reductions_match_numpy(rng):
    x = rng.standard_normal((3, 4))
    t = nb.tensor(x, requires_grad=True)
    np.testing.assert_array_equal(nb.argmax(t, axis=1).data, np.argmax(x, axis=1))
    np.testing.assert_array_equal(nb.argmin(x), np.argmin(x))
    np.testing.assert_array_equal(nb.argsort(x, axis=0), np.argsort(x, axis=0))
    assert bool(nb.any(x > 1.0)) == bool(np.any(x > 1.0))
    np.testing.assert_array_equal(nb.all(x > -1, axis=0), np.all(x > -1, axis=0))
    assert not nb.argmax(t).requires_grad


# -- shape and assembly ------------------------------------------------------------------------
def test_shape_functions_match_numpy(rng):
    x = rng.standard_normal((2, 3, 4))
    cases = [
        (nb.ravel(x), np.ravel(x)), (nb.flatten(x), x.flatten()),
        (nb.repeat(x, 2, axis=1), np.repeat(x, 2, axis=1)), (nb.repeat(x, 3), np.repeat(x, 3)),
        (nb.tile(x, 2), np.tile(x, 2)), (nb.tile(x, (2, 1, 1, 3)), np.tile(x, (2, 1, 1, 3))),
        (nb.roll(x, 5), np.roll(x, 5)), (nb.roll(x, -1, axis=2), np.roll(x, -1, axis=2)),
        (nb.flip(x), np.flip(x)), (nb.flip(x, (0, 2)), np.flip(x, (0, 2))),
        (nb.rot90(x[0]), np.rot90(x[0])), (nb.rot90(x, 2, (1, 2)), np.rot90(x, 2, (1, 2))),
        (nb.rot90(x, -1), np.rot90(x, -1)),
        (nb.moveaxis(x, [0, 1], [-1, 0]), np.moveaxis(x, [0, 1], [-1, 0])),
        (nb.tril(x, 1), np.tril(x, 1)), (nb.triu(x, -1), np.triu(x, -1)),
        (nb.trace(x[0]), np.trace(x[0])), (nb.trace(x, 1, 1, 2), np.trace(x, 1, 1, 2)),
        (nb.diag(x[0, 0], 2), np.diag(x[0, 0], 2)), (nb.diag(x[0], -1), np.diag(x[0], -1)),
        (nb.diagflat(x[0]), np.diagflat(x[0])),
        (nb.kron(x[0], x[1, :2]), np.kron(x[0], x[1, :2])), (nb.kron(x, x[0]), np.kron(x, x[0])),
        (nb.inner(x, x[0]), np.inner(x, x[0])),
        (nb.cross(x[..., :3], x[0, 0, 1:]), np.cross(x[..., :3], x[0, 0, 1:])),
        (nb.tensordot(x, x[0], axes=([2], [1])), np.tensordot(x, x[0], axes=([2], [1]))),
        (nb.tensordot(x, x, axes=3), np.tensordot(x, x, axes=3)),
        (nb.vstack([x[0], x[1]]), np.vstack([x[0], x[1]])),
        (nb.hstack([x[0, 0], x[1, 1]]), np.hstack([x[0, 0], x[1, 1]])),
        (nb.dstack([x[0], x[1]]), np.dstack([x[0], x[1]])),
        (nb.column_stack([x[0, 0], x[0, 1]]), np.column_stack([x[0, 0], x[0, 1]])),
        (nb.atleast_3d(x[0, 0]), np.atleast_3d(x[0, 0])), (nb.atleast_2d(3.0), np.atleast_2d(3.0)),
        (nb.eye(3, 4, 1), np.eye(3, 4, 1)),
    ]
    for ours, theirs in cases:
        assert np.shape(ours) == np.shape(theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad_matches_numpy(mode, rng):
    x = rng.standard_normal((3, 4))
    for width in (1, (2, 3), ((1, 0), (3, 2))):
        np.testing.assert_array_equal(nb.pad(x, width, mode=mode), np.pad(x, width, mode=mode))
    g = nb.grad(lambda a: nb.sum(nb.pad(a, 2, mode=mode)))(x)
    np.testing.assert_allclose(g.sum(), np.pad(x, 2, mode=mode).size if mode != "constant"
                               else x.size)


def test_split_and_array_split_match_numpy(rng):
    x = rng.standard_normal((6, 5))
    for ours, theirs in [(nb.split(x, 3), np.split(x, 3)),
                         (nb.array_split(x, 3, axis=1), np.array_split(x, 3, axis=1)),
                         (nb.split(x, [1, 4]), np.split(x, [1, 4]))]:
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="equal division"):
        nb.split(x, 4)


def test_einsum_matches_numpy_on_many_subscripts(rng):
    a, b, c = rng.standard_normal((3, 3)), rng.standard_normal((3, 4)), rng.standard_normal(
        (2, 3, 4))
    for spec, ops in [("ii", [a]), ("ii->i", [a]), ("ij->ji", [a]), ("ij,jk", [a, b]),
                      ("ij,jk->", [a, b]), ("...jk,jk->...", [c, b]), ("i,j", [a[0], b[0]]),
                      ("bij,jk->bik", [c, b.T]), ("...ij->...ji", [c]), ("ba", [a]),
                      ("ij,ij,ij->j", [b, b, b]), ("i...,i...->...", [c, c])]:
        np.testing.assert_allclose(nb.einsum(spec, *ops), np.einsum(spec, *ops), rtol=1e-13)


def test_einsum_refuses_bad_subscripts():
    a = np.ones((2, 3))
    with pytest.raises(ValueError, match="name 2 operands"):
        nb.einsum("ij,jk", a)
    with pytest.raises(ValueError, match="sizes 3 and 2"):
        nb.einsum("ij,jk", a, np.ones((2, 2)))
    with pytest.raises(ValueError, match="appears in no operand"):
        nb.einsum("ij->k", a)
    with pytest.raises(ValueError, match="letters"):
        nb.einsum("i1", a)


def test_cross_refuses_wrong_lengths():
    with pytest.raises(ValueError, match="dimension must be 2 or 3"):
        nb.cross(np.ones(4), np.ones(3))


def test_no_warnings_from_first_order_passes(rng):
    x = rng.uniform(0.5, 1.5, (3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("sin", "arccosh", "log2", "sinc"):
            nb.grad(lambda a, f=getattr(nb, name): nb.sum(f(a + 1.0)))(x)


def test_logaddexp_at_equal_infinities_splits_the_gradient():
    for v in (np.inf, -np.inf):
        gx, gy = nb.grad(lambda a, b: nb.logaddexp(a, b), argnums=(0, 1))(np.array(v),
                                                                          np.array(v))
        assert (gx, gy) == (0.5, 0.5)
    assert nb.grad(lambda a: nb.logaddexp(a, np.array(3.0)))(np.array(-np.inf)) == 0.0
    assert nb.grad(lambda a: nb.logaddexp(a, np.array(3.0)))(np.array(np.inf)) == 1.0


def test_empty_and_zero_dimensional_inputs(rng):
    assert nb.grad(lambda a: nb.sum(nb.prod(a, axis=0)))(np.ones((0, 3))).shape == (0, 3)
    np.testing.assert_array_equal(nb.prod(np.ones((0, 3)), axis=0), np.ones(3))
    assert nb.linalg.eigh(np.ones((0, 2, 2)))[0].shape == (0, 2)
    assert nb.grad(lambda a: nb.sum(nb.linalg.inv(a)))(np.ones((0, 2, 2))).shape == (0, 2, 2)
    with pytest.raises(ValueError, match="out of bounds"):
        nb.sort(np.array(2.0))  # as NumPy: a 0-d array has no axis -1
    for fun in (nb.cumsum, nb.cumprod, nb.var, nb.ptp, nb.flip):
        assert np.shape(nb.grad(lambda a, f=fun: nb.sum(f(a)))(np.array(2.0))) == ()
    assert nb.einsum(",->", np.array(2.0), np.array(3.0)) == 6.0
    assert nb.grad(lambda a: nb.std(a))(np.array([[4.0]])) == 0.0  # a constant slice


def test_svd_values_differentiate_with_full_matrices(rng):
    t = rng.standard_normal((4, 3))
    u, s, vh = np.linalg.svd(t, full_matrices=False)
    np.testing.assert_allclose(nb.grad(lambda a: nb.sum(nb.linalg.svd(a)[1]))(t), u @ vh,
                               atol=1e-12)


@pytest.mark.parametrize("fun", [
    lambda a: nb.sum(nb.cumprod(a, axis=1)), lambda a: nb.prod(a), lambda a: nb.var(a),
    lambda a: nb.sum(nb.linalg.pinv(a)), lambda a: nb.linalg.slogdet(a)[1],
    lambda a: nb.sum(nb.linalg.eigh(a + a.T)[0] ** 2), lambda a: nb.einsum("ij,jk->", a, a),
    lambda a: nb.sum(nb.average(a, axis=0, weights=a[0] * a[0])),
    lambda a: nb.sum(nb.logaddexp(a, a.T)), lambda a: nb.linalg.norm(a, "nuc"),
])
def test_float32_stays_float32(fun, rng):
    x = (rng.standard_normal((3, 3)) + 3 * np.eye(3)).astype(np.float32)
    t = nb.tensor(x, requires_grad=True)
    out = fun(t)
    out.backward()
    assert out.dtype == np.float32 and t.grad.dtype == np.float32
    assert np.asarray(nb.grad(fun)(x)).dtype == np.float32


def test_lists_are_accepted_as_numpy_accepts_them():
    m, v = [[3.0, 1.0], [1.0, 2.0]], [3.0, 1.0, 2.0]
    arr = np.array(m)
    pairs = [
        (nb.sort(v), np.sort(v)), (nb.average(v, weights=[1.0, 2.0, 3.0]),
                                    np.average(v, weights=[1.0, 2.0, 3.0])),
        (nb.var(v), np.var(v)), (nb.prod(v), np.prod(v)), (nb.cumprod(v), np.cumprod(v)),
        (nb.linalg.eigh(m)[0], np.linalg.eigh(arr)[0]),
        (nb.linalg.svd(m)[1], np.linalg.svd(arr)[1]),
        (nb.linalg.qr(m)[1], np.linalg.qr(arr)[1]), (nb.linalg.inv(m), np.linalg.inv(arr)),
        (nb.linalg.matrix_power(m, 2), np.linalg.matrix_power(arr, 2)),
        (nb.linalg.solve(m, [1.0, 2.0]), np.linalg.solve(arr, [1.0, 2.0])),
        (nb.linalg.pinv(m), np.linalg.pinv(arr)), (nb.einsum("ij->", m), np.einsum("ij->", arr)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
