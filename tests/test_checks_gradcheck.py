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
