"""Property tests: shapes and broadcasting of NumPy's API agree with NumPy's forward values,
and every gradient has its input's shape."""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import nablanet as nb  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def _values(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


def _grad_shape_ok(fun, x):
    g = nb.grad(lambda a: nb.sum(fun(a)))(x)
    assert np.shape(g) == np.shape(x)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       name=st.sampled_from(["arctan2", "logaddexp", "logaddexp2", "hypot"]),
       seed=st.integers(0, 2 ** 16))
def test_binary_broadcasting(shapes, name, seed):
    x, y = (_values(s, seed + i, 0.2, 2.0) for i, s in enumerate(shapes.input_shapes))
    out = getattr(nb, name)(x, y)
    np.testing.assert_allclose(out, getattr(np, name)(x, y), rtol=1e-14)
    gx, gy = nb.grad(lambda a, b: nb.sum(getattr(nb, name)(a, b)), argnums=(0, 1))(x, y)
    assert np.shape(gx) == np.shape(x) and np.shape(gy) == np.shape(y)


def _axis_and_keep(draw, ndim):
    axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1))) if ndim else None
    return axis, draw(st.booleans())


@SETTINGS
@given(data=st.data(), shape=shapes, seed=st.integers(0, 2 ** 16),
       name=st.sampled_from(["prod", "var", "std", "ptp", "nansum", "nanmean"]))
def test_reductions_over_any_axis(data, shape, seed, name):
    axis, keepdims = _axis_and_keep(data.draw, len(shape))
    x = _values(shape, seed) + 3.0  # away from zero for std's gradient
    ours = getattr(nb, name)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(ours, getattr(np, name)(x, axis=axis, keepdims=keepdims),
                               rtol=1e-12)
    _grad_shape_ok(lambda a: getattr(nb, name)(a, axis=axis, keepdims=keepdims), x)


@SETTINGS
@given(data=st.data(), shape=shapes, seed=st.integers(0, 2 ** 16),
       name=st.sampled_from(["cumsum", "cumprod"]))
def test_scans_over_any_axis(data, shape, seed, name):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))) \
        if shape else None
    x = _values(shape, seed)
    fun = getattr(nb, name)
    traced = fun(nb.tensor(x, requires_grad=True), axis=axis)
    np.testing.assert_allclose(traced.data, getattr(np, name)(x, axis=axis), rtol=1e-12,
                               atol=1e-15)
    _grad_shape_ok(lambda a: fun(a, axis=axis), x)


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
       seed=st.integers(0, 2 ** 16))
def test_rearrangements(data, shape, seed):
    x = _values(shape, seed)
    ndim = len(shape)
    axis = data.draw(st.integers(-ndim, ndim - 1))
    shift = data.draw(st.integers(-5, 5))
    reps = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    repeats = data.draw(st.integers(1, 3))
    dest = data.draw(st.integers(-ndim, ndim - 1))
    cases = [
        (lambda a: nb.roll(a, shift, axis=axis), lambda a: np.roll(a, shift, axis=axis)),
        (lambda a: nb.roll(a, shift), lambda a: np.roll(a, shift)),
        (lambda a: nb.flip(a, axis), lambda a: np.flip(a, axis)),
        (lambda a: nb.tile(a, reps), lambda a: np.tile(a, reps)),
        (lambda a: nb.repeat(a, repeats, axis=axis), lambda a: np.repeat(a, repeats, axis=axis)),
        (lambda a: nb.moveaxis(a, axis, dest), lambda a: np.moveaxis(a, axis, dest)),
        (lambda a: nb.sort(a, axis=axis), lambda a: np.sort(a, axis=axis)),
        (lambda a: nb.pad(a, shift % 3, mode="reflect") if min(shape) > shift % 3
         else nb.pad(a, shift % 3), lambda a: np.pad(a, shift % 3, mode="reflect")
         if min(shape) > shift % 3 else np.pad(a, shift % 3)),
    ]
    for ours, theirs in cases:
        np.testing.assert_array_equal(ours(x), theirs(x))
        _grad_shape_ok(ours, x)


@SETTINGS
@given(batch=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3),
       n=st.integers(1, 3), k=st.integers(1, 3), m=st.integers(1, 3),
       seed=st.integers(0, 2 ** 16))
def test_einsum_batched_matmul_broadcasts_like_numpy(batch, n, k, m, seed):
    a = _values(batch.input_shapes[0] + (n, k), seed)
    b = _values(batch.input_shapes[1] + (k, m), seed + 1)
    np.testing.assert_allclose(nb.einsum("...ij,...jk->...ik", a, b),
                               np.einsum("...ij,...jk->...ik", a, b), rtol=1e-12)
    ga, gb = nb.grad(lambda p, q: nb.sum(nb.einsum("...ij,...jk->...ik", p, q)),
                     argnums=(0, 1))(a, b)
    # d sum(A B) / dA = 1 B^T summed over the broadcast batch axes
    expected = np.broadcast_to(np.ones(batch.result_shape + (n, m)) @ np.swapaxes(
        np.broadcast_to(b, batch.result_shape + (k, m)), -1, -2), batch.result_shape + (n, k))
    lead = len(batch.result_shape) - len(batch.input_shapes[0])
    expected = expected.sum(axis=tuple(range(lead)))
    for i, s in enumerate(batch.input_shapes[0]):
        if s == 1:
            expected = expected.sum(axis=i, keepdims=True)
    np.testing.assert_allclose(ga, expected, rtol=1e-12)
    assert np.shape(gb) == np.shape(b)


@SETTINGS
@given(batch=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3), n=st.integers(1, 4),
       seed=st.integers(0, 2 ** 16))
def test_linalg_on_stacks(batch, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(batch + (n, n)) + 2 * n * np.eye(n)
    s = a @ np.swapaxes(a, -1, -2)
    for ours, theirs, arg in [
        (nb.linalg.inv, np.linalg.inv, a), (nb.linalg.det, np.linalg.det, a),
        (lambda m: nb.linalg.slogdet(m)[1], lambda m: np.linalg.slogdet(m)[1], a),
        (nb.linalg.cholesky, np.linalg.cholesky, s), (nb.linalg.eigvalsh, np.linalg.eigvalsh, s),
        (nb.linalg.svdvals, lambda m: np.linalg.svd(m, compute_uv=False), a),
        (lambda m: nb.linalg.solve(m, m[..., :1]), lambda m: np.linalg.solve(m, m[..., :1]), a),
    ]:
        np.testing.assert_allclose(ours(arg), theirs(arg), rtol=1e-10, atol=1e-12)
        _grad_shape_ok(ours, arg)


@st.composite
def _einsum_problem(draw):
    labels = "abcd"
    sizes = {c: draw(st.integers(1, 3)) for c in labels}
    n_ops = draw(st.integers(1, 3))
    terms = [draw(st.text(alphabet=labels, min_size=0, max_size=3)) for _ in range(n_ops)]
    used = sorted(set("".join(terms)))
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
        spec = ",".join(terms) + "->" + out
    else:
        spec = ",".join(terms)
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    operands = [rng.standard_normal(tuple(sizes[c] for c in t)) for t in terms]
    return spec, operands


@settings(max_examples=40, deadline=None)
@given(problem=_einsum_problem())
def test_einsum_on_random_subscripts(problem):
    from nablanet.checks import check_grads

    spec, operands = problem
    np.testing.assert_allclose(nb.einsum(spec, *operands), np.einsum(spec, *operands),
                               rtol=1e-12, atol=1e-12)
    check_grads(lambda *ops: nb.einsum(spec, *ops), operands, order=2)
