"""``nb.replay(transform)``: bit-identical to the transform, and really replayed.

A replayed call does not run the user's function: counting its Python calls tells a
replay (two recordings, then none) from an eager call.
"""

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet.autodiff import replay_transform


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def assert_same_tree(a, b):
    if isinstance(b, tuple | list):
        assert type(a) is type(b) and len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            assert_same_tree(u, v)
    elif isinstance(b, dict):
        assert list(a) == list(b)
        for k in b:
            assert_same_tree(a[k], b[k])
    else:
        assert same_bits(a, b)


class Counted:
    """``f`` that counts how often Python runs it."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, *args):
        self.calls += 1
        return self.f(*args)


def mlp_loss(w, x):
    hidden = nb.tanh(x @ w[:12].reshape(3, 4))
    return nb.logsumexp(hidden @ w[12:].reshape(4, 2), axis=1).sum()


W = np.random.default_rng(0).standard_normal(20)
X = np.random.default_rng(1).standard_normal((5, 3))


def points(n=5):
    rng = np.random.default_rng(2)
    return [W + 0.1 * rng.standard_normal(20) for _ in range(n)]


TRANSFORMS = {
    "hessian": lambda f: nb.hessian(f),
    "grad": lambda f: nb.grad(f),
    "value_and_grad": lambda f: nb.value_and_grad(f),
    "jacobian_of_grad": lambda f: nb.jacobian(nb.grad(f)),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_replay_equals_the_transform_and_skips_python(name):
    counted = Counted(mlp_loss)
    replayed = nb.replay(TRANSFORMS[name](counted))
    eager = TRANSFORMS[name](mlp_loss)
    for w in points():
        assert_same_tree(replayed(w, X), eager(w, X))
    assert counted.calls == 2  # recorded twice, then replayed three times


def test_replay_of_hvp():
    counted = Counted(mlp_loss)
    replayed, eager = nb.replay(nb.hvp(counted)), nb.hvp(mlp_loss)
    v = np.random.default_rng(3).standard_normal(20)
    for w in points():
        assert same_bits(replayed(w, X, v), eager(w, X, v))
    assert counted.calls == 2


def test_replay_new_shapes_record_again():
    counted = Counted(mlp_loss)
    replayed = nb.replay(nb.hessian(counted))
    for rows in (5, 7, 5, 7, 5, 7):
        x = np.random.default_rng(rows).standard_normal((rows, 3))
        assert same_bits(replayed(W, x), nb.hessian(mlp_loss)(W, x))
    assert counted.calls == 4


def test_replay_of_a_replay_and_of_replay_true():
    f = nb.hessian(mlp_loss, replay=True)
    again = nb.replay(nb.replay(f))
    for w in points(3):
        assert same_bits(again(w, X), nb.hessian(mlp_loss)(w, X))


def test_replay_with_pytree_arguments():
    def loss(p, x):
        return (nb.tanh(x @ p["w"]) * p["b"]).sum()

    params = {"b": np.array([0.5, -1.0]), "w": np.random.default_rng(4).standard_normal((3, 2))}
    replayed, eager = nb.replay(nb.value_and_grad(loss)), nb.value_and_grad(loss)
    for k in range(4):
        p = {key: value * (1 + 0.1 * k) for key, value in params.items()}
        assert_same_tree(replayed(p, X), eager(p, X))


def test_replay_of_a_value_dependent_function_runs_eagerly():
    def f(x):
        return (x ** 3).sum() if float(x.sum()) > 0 else (x ** 4).sum()

    counted = Counted(f)
    replayed = nb.replay(nb.hessian(counted))
    for x in ([1.0, 2.0], [1.0, 2.0], [-3.0, 1.0], [2.0, 2.0]):
        x = np.array(x)
        assert same_bits(replayed(x), nb.hessian(f)(x))
    assert counted.calls == 4


def test_replay_has_aux_runs_eagerly_and_right():
    def f(x):
        return (x ** 2).sum(), x.data.copy()

    replayed, eager = nb.replay(nb.grad(f, has_aux=True)), nb.grad(f, has_aux=True)
    for k in range(3):
        x = np.array([1.0, float(k)])
        assert_same_tree(replayed(x), eager(x))


def test_plain_function_is_refused():
    with pytest.raises(TypeError, match="wraps a nablanet transform"):
        nb.replay(lambda x: x)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(-2, 2, allow_nan=False), min_size=4, max_size=4),
       st.integers(2, 5))
def test_property_replayed_hessian_is_the_hessian(start, calls):
    counted = Counted(lambda x: (nb.tanh(x) * x ** 2).sum())
    replayed = nb.replay(nb.hessian(counted))
    for k in range(calls):
        x = np.array(start) + 0.25 * k
        assert same_bits(replayed(x), nb.hessian(lambda x: (nb.tanh(x) * x ** 2).sum())(x))
    assert counted.calls == min(calls, 2)


def test_doctest():
    assert doctest.testmod(replay_transform).failed == 0
