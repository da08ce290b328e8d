"""Pytrees: the flatten/unflatten module, and every transform taking and returning them.

Structures and values are checked three ways: against JAX itself (when importable), against
the same function computed on one flat parameter vector, and on random pytrees of random
shapes drawn by hypothesis.
"""

from collections import OrderedDict, namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet.autodiff.pytree import (
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

Point = namedtuple("Point", "x y")


def jax_or_skip():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


# -- the module ------------------------------------------------------------------------
def test_flatten_order_and_structure_match_jax():
    jax = jax_or_skip()
    tree = {"b": (1.0, [2.0, None]), "a": Point(3.0, {"z": 4.0, "y": 5.0}),
            "c": OrderedDict([("q", 6.0), ("p", 7.0)]), "d": ()}
    leaves, treedef = tree_flatten(tree)
    assert leaves == jax.tree_util.tree_leaves(tree) == [3.0, 5.0, 4.0, 1.0, 2.0, 6.0, 7.0]
    rebuilt = tree_unflatten(treedef, leaves)
    assert rebuilt == tree and type(rebuilt["a"]) is Point
    assert list(rebuilt["c"]) == ["q", "p"]  # an OrderedDict keeps its order, as in JAX
    assert treedef.num_leaves == 7


def test_none_and_empty_containers_hold_no_leaves():
    leaves, treedef = tree_flatten([None, (), {}])
    assert leaves == [] and tree_unflatten(treedef, []) == [None, (), {}]
    assert tree_structure(None) != tree_structure(())


def test_structures_compare_by_containers_and_keys():
    assert tree_structure({"a": 1, "b": 2}) == tree_structure({"b": 5, "a": 6})
    assert tree_structure({"a": 1}) != tree_structure({"b": 1})
    assert tree_structure((1, 2)) != tree_structure([1, 2])
    assert tree_structure(Point(1, 2)) != tree_structure((1, 2))
    assert tree_structure(np.ones(3)).is_leaf


def test_tree_map_over_several_trees_and_a_prefix():
    assert tree_map(lambda a, b: a + b, {"a": 1, "b": (2, 3)}, {"a": 10, "b": (20, 30)}) == {
        "a": 11, "b": (22, 33)}
    # a leaf of the first tree may face a subtree of the others
    assert tree_map(lambda a, b: (a, b), (1, 2), ([3], {"k": 4})) == ((1, [3]), (2, {"k": 4}))
    with pytest.raises(ValueError, match="pytree structures differ"):
        tree_map(lambda a, b: a, (1, 2), [1, 2])


def test_unflatten_with_the_wrong_leaf_count_and_unsortable_keys_are_clear_errors():
    with pytest.raises(ValueError, match="holds 2 leaves, got 3"):
        tree_unflatten(tree_structure((1, 2)), [1, 2, 3])
    with pytest.raises(TypeError, match="sortable keys"):
        tree_flatten({1: 0.0, "a": 1.0})
    assert tree_leaves(np.ones(2))[0].shape == (2,)


# -- the examples --------------------------------------------------------------
def test_jacobian_of_a_tuple_output_is_a_tuple_of_jacobians():
    x = np.array([1.0, -2.0, 0.5])
    jac_x3, jac_sum = nb.jacobian(lambda x: (3 * x, nb.sum(x * x)))(x)
    np.testing.assert_array_equal(jac_x3, 3 * np.eye(3))
    np.testing.assert_array_equal(jac_sum, 2 * x)


def test_hessian_with_two_argnums_is_the_nested_tuple_of_blocks(rng):
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    A = rng.standard_normal((3, 2))

    def f(x, y):
        return nb.sum(nb.tanh(x @ A * y)) + nb.sum(x ** 3)

    (hxx, hxy), (hyx, hyy) = nb.hessian(f, argnums=(0, 1))(x, y)
    assert (hxx.shape, hxy.shape, hyx.shape, hyy.shape) == ((3, 3), (3, 2), (2, 3), (2, 2))
    full = nb.hessian(lambda z: f(z[:3], z[3:]))(np.concatenate([x, y]))
    np.testing.assert_allclose(np.block([[hxx, hxy], [hyx, hyy]]), full, rtol=1e-12)


def test_grad_of_a_list_is_a_list_not_one_stacked_array(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = g = nb.grad(lambda p: nb.sum(p[0] * p[1] ** 2))([a, b])
    assert type(g) is list
    np.testing.assert_allclose(ga, b ** 2)
    np.testing.assert_allclose(gb, 2 * a * b)


def test_grad_of_a_parameter_dict_is_a_dict_of_arrays():
    params = {"w": np.array([1.0, 2.0]), "b": 0.5}
    g = nb.grad(lambda p: nb.sum(p["w"] ** 2) * p["b"])(params)
    assert set(g) == {"w", "b"} and all(type(v) is np.ndarray for v in g.values())
    np.testing.assert_allclose(g["w"], [1.0, 2.0])
    assert g["b"].shape == () and float(g["b"]) == 5.0


# -- against JAX -----------------------------------------------------------------------
def _loss(xp):
    """A scalar of a dict {"w": (3, 2), "b": (2,)} and an array x (4, 3)."""

    def loss(params, x):
        z = xp.tanh(x @ params["w"] + params["b"])
        return xp.sum(z ** 2) + xp.sum(params["b"] ** 3)

    return loss


def _vector_fun(xp):
    def fun(params, x):
        z = xp.tanh(x @ params["w"] + params["b"])
        return {"z": z, "total": (xp.sum(z), z[0] * params["b"])}

    return fun


@pytest.fixture
def point(rng):
    return {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}, \
        rng.standard_normal((4, 3))


def assert_same_tree(got, want, rtol=1e-12):
    got_leaves, got_def = tree_flatten(got)
    want_leaves, want_def = tree_flatten(want)
    assert got_def == want_def, (got_def, want_def)
    for g, w in zip(got_leaves, want_leaves, strict=True):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=1e-12)


def _jax_tree(tree):
    return tree_map(np.asarray, tree)


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0)])
def test_grad_value_and_grad_hessian_match_jax(point, argnums):
    jax = jax_or_skip()
    import jax.numpy as jnp

    args = point
    assert_same_tree(nb.grad(_loss(nb), argnums)(*args),
                     _jax_tree(jax.grad(_loss(jnp), argnums)(*args)))
    value, g = nb.value_and_grad(_loss(nb), argnums)(*args)
    jvalue, jg = jax.value_and_grad(_loss(jnp), argnums)(*args)
    assert float(value) == pytest.approx(float(jvalue), rel=1e-13)
    assert_same_tree(g, _jax_tree(jg))
    assert_same_tree(nb.hessian(_loss(nb), argnums)(*args),
                     _jax_tree(jax.hessian(_loss(jnp), argnums)(*args)))


@pytest.mark.parametrize("argnums", [0, (0, 1)])
@pytest.mark.parametrize("mode", ["jacrev", "jacfwd"])
def test_jacobians_of_pytree_outputs_match_jax(point, argnums, mode):
    jax = jax_or_skip()
    import jax.numpy as jnp

    ours = getattr(nb, mode)(_vector_fun(nb), argnums)(*point)
    assert_same_tree(ours, _jax_tree(getattr(jax, mode)(_vector_fun(jnp), argnums)(*point)))


def test_vjp_and_jvp_of_pytrees_match_jax(point, rng):
    jax = jax_or_skip()
    import jax.numpy as jnp

    out, pullback = nb.vjp(_vector_fun(nb), *point)
    jout, jpullback = jax.vjp(_vector_fun(jnp), *point)
    assert_same_tree(out, _jax_tree(jout))
    cot = tree_map(lambda o: rng.standard_normal(np.shape(o)), out)
    assert_same_tree(pullback(cot), _jax_tree(jpullback(cot)))
    tangents = tree_map(lambda p: rng.standard_normal(np.shape(p)), point)
    out, tangent_out = nb.jvp(_vector_fun(nb), point, tangents)
    jout, jtangent = jax.jvp(_vector_fun(jnp), point, tangents)
    assert_same_tree(out, _jax_tree(jout))
    assert_same_tree(tangent_out, _jax_tree(jtangent))


def test_has_aux_matches_jax(point):
    jax = jax_or_skip()
    import jax.numpy as jnp

    def with_aux(xp):
        def fun(params, x):
            loss = _loss(xp)(params, x)
            return loss, {"loss": loss, "scaled": 2 * params["b"]}

        return fun

    g, aux = nb.grad(with_aux(nb), has_aux=True)(*point)
    jg, jaux = jax.grad(with_aux(jnp), has_aux=True)(*point)
    assert_same_tree((g, aux), _jax_tree((jg, jaux)))
    assert all(type(leaf) is np.ndarray for leaf in tree_leaves(aux))  # values, not Tensors
    (value, aux), g = nb.value_and_grad(with_aux(nb), 1, has_aux=True)(*point)
    (jvalue, jaux), jg = jax.value_and_grad(with_aux(jnp), 1, has_aux=True)(*point)
    assert_same_tree((value, aux, g), _jax_tree((jvalue, jaux, jg)))
    jac, aux = nb.jacobian(with_aux(nb), has_aux=True)(*point)
    assert_same_tree((jac, aux), _jax_tree(jax.jacrev(with_aux(jnp), has_aux=True)(*point)))
    h, aux = nb.hessian(with_aux(nb), has_aux=True)(*point)
    assert_same_tree((h, aux), _jax_tree(jax.hessian(with_aux(jnp), has_aux=True)(*point)))
    out, pullback, aux = nb.vjp(with_aux(nb), *point, has_aux=True)
    assert_same_tree(pullback(1.0), _jax_tree(jax.vjp(with_aux(jnp), *point, has_aux=True)[1](
        1.0)))


def test_hvp_of_a_dict_and_of_tuple_argnums_is_the_jvp_of_the_gradient(point, rng):
    jax = jax_or_skip()
    import jax.numpy as jnp

    params, x = point
    v = tree_map(lambda p: rng.standard_normal(np.shape(p)), params)
    want = jax.jvp(jax.grad(_loss(jnp)), (params, x), (v, tree_map(np.zeros_like, x)))[1]
    assert_same_tree(nb.hvp(_loss(nb))(params, x, v), _jax_tree(want))
    vx = rng.standard_normal(x.shape)
    want = jax.jvp(lambda p, x: jax.grad(_loss(jnp), (0, 1))(p, x), (params, x), (v, vx))[1]
    assert_same_tree(nb.hvp(_loss(nb), argnums=(0, 1))(params, x, (v, vx)), _jax_tree(want))


# -- random pytrees through every transform (hypothesis) --------------------------------
class _Shape:
    """A leaf's shape in a tree of shapes (a tuple would be a container)."""

    def __init__(self, dims):
        self.dims = tuple(dims)

    def __repr__(self):
        return f"Shape{self.dims}"


def _trees(max_leaves=5):
    shapes = st.lists(st.integers(0, 3), min_size=0, max_size=2).map(_Shape)
    keys = st.sampled_from(["a", "b", "c", "w"])
    return st.recursive(
        shapes, lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(tuple),
            st.lists(children, min_size=1, max_size=3),
            st.dictionaries(keys, children, min_size=1, max_size=3)),
        max_leaves=max_leaves)


def _fill(shape_tree, seed):
    rng = np.random.default_rng(seed)
    return tree_map(lambda shape: rng.uniform(-1, 1, shape.dims), shape_tree)


def _ravel(tree):
    return np.concatenate([np.ravel(leaf) for leaf in tree_leaves(tree)] + [np.zeros(0)])


def _unravel(theta, like):
    leaves, treedef = tree_flatten(like)
    parts, start = [], 0
    for leaf in leaves:
        size = np.size(leaf)
        parts.append(nb.reshape(theta[start:start + size], np.shape(leaf)))
        start += size
    return tree_unflatten(treedef, parts)


def _scalar(tree):
    """A coupled scalar of all leaves: sum tanh(leaf) * leaf + (sum of all entries)^2."""
    total, square = 0.0, 0.0
    for k, leaf in enumerate(tree_leaves(tree)):
        total = total + nb.sum(nb.tanh(leaf) * leaf) * (k + 1)
        square = square + nb.sum(leaf)
    return total + square * square


def _tree_valued(tree):
    """Each leaf becomes tanh(leaf) times the scalar above: a pytree of the same structure."""
    s = _scalar(tree)
    return tree_map(lambda leaf: nb.tanh(leaf) * s, tree)


def _flat_valued(theta, like):
    out = _tree_valued(_unravel(theta, like))
    parts = [nb.reshape(leaf, (-1,)) for leaf in tree_leaves(out)]
    return nb.concatenate(*parts) if len(parts) > 1 else parts[0]


def _blocks_equal_flat(jac, flat, out_tree, in_tree):
    """A Jacobian pytree (out structure of in structures) against the flat matrix."""
    out_leaves, out_def = tree_flatten(out_tree)
    assert tree_structure(jac) == tree_structure(tree_map(lambda _: in_tree, out_tree))
    rows = 0
    for k, (out, per_out) in enumerate(zip(out_leaves, flat_per_output(jac, out_def),
                                           strict=True)):
        cols = 0
        for inp, block in zip(tree_leaves(in_tree), tree_leaves(per_out), strict=True):
            assert block.shape == np.shape(out) + np.shape(inp), k
            want = flat[rows:rows + np.size(out), cols:cols + np.size(inp)]
            np.testing.assert_allclose(block.reshape(want.shape), want, rtol=1e-11, atol=1e-12)
            cols += np.size(inp)
        rows += np.size(out)


def flat_per_output(jac, out_def):
    """The in-structured Jacobians of each output leaf (the first level of ``jac``)."""
    from nablanet.autodiff.pytree import flatten_up_to

    return flatten_up_to(out_def, jac)


SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)


@SETTINGS
@given(_trees(), st.integers(0, 2 ** 16))
def test_random_pytrees_grad_and_hvp_equal_the_flat_computation(shapes, seed):
    tree = _fill(shapes, seed)
    theta = _ravel(tree)
    g = nb.grad(_scalar)(tree)
    assert tree_structure(g) == tree_structure(tree)
    flat_g = nb.grad(lambda t: _scalar(_unravel(t, tree)))(theta)
    np.testing.assert_allclose(_ravel(g), flat_g, rtol=1e-12, atol=1e-13)
    v = _fill(shapes, seed + 1)
    hv = nb.hvp(_scalar)(tree, v)
    assert tree_structure(hv) == tree_structure(tree)
    flat_hv = nb.hvp(lambda t: _scalar(_unravel(t, tree)))(theta, _ravel(v))
    np.testing.assert_allclose(_ravel(hv), flat_hv, rtol=1e-11, atol=1e-12)
    value, tangent = nb.jvp(nb.grad(_scalar), (tree,), (v,))
    np.testing.assert_allclose(_ravel(tangent), flat_hv, rtol=1e-11, atol=1e-12)


@SETTINGS
@given(_trees(max_leaves=4), st.integers(0, 2 ** 16))
def test_random_pytrees_jacobians_and_products_equal_the_flat_computation(shapes, seed):
    tree = _fill(shapes, seed)
    theta = _ravel(tree)
    out_tree = _tree_valued(tree)
    flat = nb.jacobian(lambda t: _flat_valued(t, tree))(theta)
    assert flat.shape == (theta.size, theta.size)
    for transform in (nb.jacrev, nb.jacfwd):
        _blocks_equal_flat(transform(_tree_valued)(tree), flat, out_tree, tree)
    H = nb.hessian(_scalar)(tree)
    flat_H = nb.hessian(lambda t: _scalar(_unravel(t, tree)))(theta)
    _blocks_equal_flat(H, flat_H, tree, tree)
    # vjp and jvp with random directions against the flat Jacobian
    rng = np.random.default_rng(seed)
    u = tree_map(lambda o: rng.standard_normal(np.shape(o)), out_tree)
    (pulled,) = nb.vjp(_tree_valued, tree)[1](u)
    np.testing.assert_allclose(_ravel(pulled), _ravel(u) @ flat, rtol=1e-11, atol=1e-12)
    t = tree_map(lambda p: rng.standard_normal(np.shape(p)), tree)
    _, pushed = nb.jvp(_tree_valued, (tree,), (t,))
    assert tree_structure(pushed) == tree_structure(out_tree)
    np.testing.assert_allclose(_ravel(pushed), flat @ _ravel(t), rtol=1e-11, atol=1e-12)


# -- edges and refusals ----------------------------------------------------------------
def test_empty_inputs_and_outputs_give_empty_jacobians():
    for transform in (nb.jacrev, nb.jacfwd):
        assert transform(lambda x: nb.stack([nb.sum(x), nb.sum(x * x)]))(np.ones(0)).shape == (
            2, 0)
        J = transform(lambda x: x[:0])(np.ones(3))
        assert J.shape == (0, 3)
        assert transform(lambda x: x * 2)(np.ones((0, 2))).shape == (0, 2, 0, 2)
    np.testing.assert_array_equal(nb.grad(lambda x: nb.sum(x))(np.ones(0)), np.ones(0))
    assert nb.hessian(lambda x: nb.sum(x * x))(np.ones(0)).shape == (0, 0)


def test_empty_structures_pass_through():
    assert nb.grad(lambda p: nb.sum(p["a"]))({"a": np.ones(2), "none": None})["none"] is None
    assert nb.jacobian(lambda x: ())(np.ones(2)) == ()


@pytest.mark.parametrize("argnums, error, match", [
    ((0, 0), ValueError, "names an argument twice"),
    ((0, -2), ValueError, "names an argument twice"),
    (2, ValueError, "out of range"),
    ((), ValueError, "argnums is empty"),
    (1.0, TypeError, "int or a tuple of ints"),
])
@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacobian", "jacfwd",
                                       "hessian", "hvp"])
def test_bad_argnums_are_clear_errors(transform, argnums, error, match):
    args = (np.ones(2), np.ones(2)) + ((np.ones(2),) if transform == "hvp" else ())
    with pytest.raises(error, match=match):
        getattr(nb, transform)(lambda x, y: nb.sum(x * y), argnums=argnums)(*args)


def test_grad_refuses_pytree_complex_and_vector_outputs():
    x = np.ones(2)
    with pytest.raises(TypeError, match="scalar output, got a PyTreeDef.*has_aux"):
        nb.grad(lambda x: (nb.sum(x), nb.sum(x)))(x)
    with pytest.raises(TypeError, match="real-valued output, got dtype complex128"):
        nb.grad(lambda x: nb.sum(x) * (1 + 2j))(x)
    with pytest.raises(TypeError, match=r"scalar output, got shape \(2,\)"):
        nb.grad(lambda x: x)(x)
    with pytest.raises(TypeError, match="has_aux=True needs the function to return a pair"):
        nb.grad(lambda x: nb.sum(x), has_aux=True)(x)


def test_integer_leaves_are_refused_naming_the_fix_and_discrete_outputs_have_zero_jacobians():
    with pytest.raises(TypeError, match=r"argument 0 \(leaf 1\) has dtype int64.*floats"):
        nb.grad(lambda p: nb.sum(p["a"]) + nb.sum(p["b"]))({"a": np.ones(2), "b": np.arange(2)})
    # a boolean or integer output is piecewise constant: its derivative is 0 where it exists
    for transform in (nb.jacrev, nb.jacfwd):
        mask, total = transform(lambda x: (x > 0, nb.sum(x)))(np.array([1.0, -1.0]))
        assert mask.dtype == np.float64 and mask.shape == (2, 2) and not mask.any()
        np.testing.assert_array_equal(total, np.ones(2))
    with pytest.raises(TypeError, match="returned a str, where arrays"):
        nb.jacobian(lambda x: "x")(np.ones(2))


def test_mismatched_cotangents_and_directions_are_clear_errors():
    out, pullback = nb.vjp(lambda x: {"a": x, "b": nb.sum(x)}, np.ones(2))
    with pytest.raises(ValueError, match="cotangent has structure"):
        pullback(np.ones(2))
    with pytest.raises(ValueError, match=r"cotangent has shape \(3,\), expected \(2,\)"):
        pullback({"a": np.ones(3), "b": 1.0})
    with pytest.raises(ValueError, match="the same for every output"):
        pullback({"a": np.ones((4, 2)), "b": np.ones(5)})
    with pytest.raises(ValueError, match="direction v has structure"):
        nb.hvp(lambda p: nb.sum(p[0] * p[1]))((np.ones(2), np.ones(2)), np.ones(2))


def test_each_jacobian_block_keeps_its_output_and_input_dtype():
    x32 = np.ones(2, dtype=np.float32)
    for transform in (nb.jacrev, nb.jacfwd):
        J = transform(lambda x: (x * 2, nb.sum(x) * np.ones(1), x > 0))(x32)
        assert [j.dtype for j in J] == [np.float32, np.float64, np.float32]
        np.testing.assert_array_equal(J[0], 2 * np.eye(2))


def test_transforms_without_arguments_say_what_is_missing():
    with pytest.raises(TypeError, match="needs at least one primal"):
        nb.vjp(lambda: nb.tensor(1.0))
    with pytest.raises(ValueError, match="no primals given"):
        nb.jvp(lambda: nb.tensor(1.0), (), ())
    with pytest.raises(ValueError, match="called with 0 positional arguments"):
        nb.grad(lambda: nb.tensor(1.0))()


def test_vjp_of_a_pytree_output_keeps_batch_axes(rng):
    A = rng.standard_normal((3, 2))
    _, pullback = nb.vjp(lambda x: (A @ x, nb.sum(x)), np.ones(2))
    cot = (rng.standard_normal((5, 3)), rng.standard_normal(5))
    (pulled,) = pullback(cot)
    np.testing.assert_allclose(pulled, cot[0] @ A + cot[1][:, None], rtol=1e-13)


def test_nested_transforms_of_pytrees(rng):
    # the gradient of a gradient norm, through a dict: 2 H g
    params = {"w": rng.standard_normal(3), "b": rng.standard_normal(())}

    def loss(p):
        return nb.sum(nb.tanh(p["w"] * p["b"]) ** 2) + nb.sum(p["w"] ** 4)

    def grad_norm(p):
        g = nb.grad(loss)(p)
        return nb.sum(g["w"] ** 2) + g["b"] ** 2

    got = nb.grad(grad_norm)(params)
    g = nb.grad(loss)(params)
    want = nb.hvp(loss)(params, tree_map(lambda a: 2 * a, g))
    assert_same_tree(got, want, rtol=1e-11)


def test_replay_with_pytrees_runs_eagerly_and_agrees(rng):
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))
    for transform in (nb.value_and_grad, nb.jacobian, nb.hessian, nb.hvp):
        replayed, eager = transform(_loss(nb), replay=True), transform(_loss(nb))
        extra = (params,) if transform is nb.hvp else ()
        for _ in range(4):
            assert_same_tree(replayed(params, x, *extra), eager(params, x, *extra), rtol=0)


def test_pytree_outputs_replay_bit_for_bit(rng, monkeypatch):
    # a tuple output (and so hessian with tuple argnums) replays its joined root
    from nablanet.autodiff import replay

    runs, original = [], replay.Program.run

    def counted(self, *args):
        result = original(self, *args)
        runs.append("replayed")
        return result

    monkeypatch.setattr(replay.Program, "run", counted)

    def f(x, y):
        return nb.sum(nb.tanh(x * y)) + nb.sum(x ** 3 * y)

    hessian, eager = nb.hessian(f, argnums=(0, 1), replay=True), nb.hessian(f, argnums=(0, 1))
    vector = nb.jacobian(lambda x: (x * 2, nb.sum(x ** 2)), replay=True)
    for _ in range(5):
        x, y = rng.standard_normal(3), rng.standard_normal(3)
        got, want = hessian(x, y), eager(x, y)
        assert tree_structure(got) == tree_structure(want)
        for g, w in zip(tree_leaves(got), tree_leaves(want), strict=True):
            assert g.dtype == w.dtype and g.tobytes() == w.tobytes()
        jx, jsum = vector(x)
        np.testing.assert_array_equal(jx, 2 * np.eye(3))
        np.testing.assert_array_equal(jsum, 2 * x)
    assert runs == ["replayed"] * 6
