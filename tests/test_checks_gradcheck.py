"""check_grads: passes on correct rules, catches wrong first- and second-order rules."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.autodiff import REGISTRY, Primitive
from nablanet.autodiff.tensor import raw
from nablanet.checks import check_grads
from nablanet.checks.gradcheck import GradientCheckError


@pytest.fixture
def make_primitive():
    """Build throwaway primitives and take them out of the registry afterwards."""
    names = []

    def make(name, impl):
        names.append(name)
        return Primitive(name, impl)

    yield make
    for name in names:
        REGISTRY.pop(name, None)


def test_passes_on_correct_derivatives(rng):
    check_grads(lambda x, y: nb.tanh(x) @ y, [rng.standard_normal((2, 3)), rng.standard_normal(3)])


def test_catches_a_wrong_first_order_rule(make_primitive):
    cube = make_primitive("test_wrong_cube", lambda x: x ** 3)
    cube.defvjp(lambda g, ans, x: g * 2 * x ** 2)  # should be 3 x^2
    with pytest.raises(GradientCheckError, match=r"argument 0 at order 1: analytic .* numeric"):
        check_grads(cube, [np.array([0.5, 1.5])], order=1)


def test_catches_a_rule_that_is_not_differentiable_again(make_primitive):
    square = make_primitive("test_raw_square", lambda x: x * x)
    # right first derivative, but raw(x) hides x from the second pass
    square.defvjp(lambda g, ans, x: g * 2 * raw(x))
    check_grads(square, [np.array([0.5, 1.5])], order=1)
    with pytest.raises(GradientCheckError, match="argument 0 at order 2"):
        check_grads(square, [np.array([0.5, 1.5])], order=2)


def test_names_the_failing_argument(make_primitive):
    mul = make_primitive("test_wrong_mul", np.multiply)
    mul.defvjp(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * y)  # second is wrong
    with pytest.raises(GradientCheckError, match="argument 1 at order 1"):
        check_grads(mul, [np.array([0.5, 1.5]), np.array([2.0, -1.0])], order=1)


def test_warns_on_float32_input():
    with pytest.warns(UserWarning, match="argument 0 is float32"):
        check_grads(lambda x: x * 2.0, [np.array([1.0], dtype=np.float32)], order=1,
                    rtol=1e-2, atol=1e-3)


def test_checks_third_order_and_selected_argnums(rng):
    x, y = rng.standard_normal(3), rng.standard_normal(3)
    check_grads(lambda x, y: nb.exp(x) * nb.tanh(y), [x, y], order=3)
    check_grads(lambda x, y: nb.exp(x) * y, [x, y], order=2, argnums=[1])


def _wrong_mixed_partial(make_primitive, name):
    """x * y * y whose first-order rules are right but whose dL/dx forgets it depends on y.

    d/dx (x y^2) = y^2 is written as ``g * raw(y) ** 2``: right in value, so every first
    derivative and each argument's own second derivative (d2/dx2 = 0, d2/dy2 = 2x) pass;
    only the mixed partial d/dy (dL/dx) = 2y comes out 0.
    """
    prim = make_primitive(name, lambda x, y: x * y * y)
    prim.defvjp(lambda g, ans, x, y: g * raw(y) ** 2, lambda g, ans, x, y: g * 2 * x * y)
    return prim


def test_catches_a_wrong_mixed_partial(make_primitive):
    prim = _wrong_mixed_partial(make_primitive, "test_wrong_mixed_partial")
    x, y = np.array([0.5, 1.5]), np.array([2.0, -1.0])
    check_grads(prim, [x, y], order=1)  # every first derivative is right
    for i in (0, 1):  # and each argument's own second derivative (the old per-argument check)
        only = [x, y]
        check_grads(lambda a, i=i: prim(*(only[:i] + [a] + only[i + 1:])), [only[i]], order=2)
    with pytest.raises(GradientCheckError, match="at order 2"):
        check_grads(prim, [x, y], order=2)


def test_the_mixed_partial_is_caught_for_every_seed(make_primitive):
    # a random joint direction always has a component along both arguments
    prim = _wrong_mixed_partial(make_primitive, "test_wrong_mixed_partial_seeds")
    for seed in range(5):
        with pytest.raises(GradientCheckError, match="at order 2"):
            check_grads(prim, [np.array([0.5, 1.5]), np.array([2.0, -1.0])], seed=seed)


def test_names_the_argument_along_which_the_derivative_is_wrong(make_primitive):
    prim = _wrong_mixed_partial(make_primitive, "test_wrong_mixed_partial_name")
    # along y, the derivative of the VJP misses d/dy (dL/dx); along x alone it is right
    with pytest.raises(GradientCheckError, match="argument 1 at order 2"):
        check_grads(prim, [np.array([0.5, 1.5]), np.array([2.0, -1.0])])


def test_a_correct_mixed_partial_passes(make_primitive):
    prim = make_primitive("test_right_mixed_partial", lambda x, y: x * y * y)
    prim.defvjp(lambda g, ans, x, y: g * y ** 2, lambda g, ans, x, y: g * 2 * x * y)
    check_grads(prim, [np.array([0.5, 1.5]), np.array([2.0, -1.0])], order=3)


def test_the_registry_walk_would_catch_it(make_primitive):
    # the walk calls check_grads(fun, args, order=2) on each spec: a spec in its format
    prim = _wrong_mixed_partial(make_primitive, "test_wrong_mixed_partial_spec")

    def spec(rng):
        return (lambda x, y: prim(x, y) ** 2), [rng.standard_normal((2, 3)), rng.standard_normal(3)]

    fun, args = spec(np.random.default_rng(0))
    with pytest.raises(GradientCheckError):
        check_grads(fun, args, order=2)
