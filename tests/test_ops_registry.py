"""Every registered primitive is checked: a new one without a correct rule fails here."""

import importlib
import pkgutil

import numpy as np
import pytest

import nablanet as nb
from nablanet.autodiff import REGISTRY
from nablanet.checks import check_grads
from specs_engine import ENGINE_SPECS, NON_DIFFERENTIABLE
from test_layer_steps import LAYER_STEPS

try:
    from specs_layers import LAYER_SPECS
except ImportError:
    LAYER_SPECS = {}

try:  # NumPy's API (issue 17), until the walk collects every specs_*.py
    from specs_numpy import NON_DIFFERENTIABLE as _NUMPY_NON_DIFFERENTIABLE
    from specs_numpy import NUMPY_SPECS
except ImportError:
    NUMPY_SPECS, _NUMPY_NON_DIFFERENTIABLE = {}, {}

SPECS = {**ENGINE_SPECS, **LAYER_SPECS, **NUMPY_SPECS}
NON_DIFFERENTIABLE = {**NON_DIFFERENTIABLE, **_NUMPY_NON_DIFFERENTIABLE}
#: Packages where primitives are defined; every module in them is imported.
PRIMITIVE_PACKAGES = ("nablanet.autodiff", "nablanet.ops", "nablanet.nn")


def _import_everything():
    """Import every module that may define primitives, so the registry is complete."""
    for package_name in PRIMITIVE_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(info.name)
    return sorted(REGISTRY)


ALL_PRIMITIVES = _import_everything()


def _fd_jacobian(fun, args, i, eps=1e-6):
    """Central-difference Jacobian of ``fun`` in argument ``i``: out.shape + arg.shape."""
    x = np.asarray(args[i], dtype=float)
    out = np.asarray(fun(*args))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        plus = list(args)
        minus = list(args)
        plus[i], minus[i] = x + step, x - step
        jac[(Ellipsis,) + idx] = (np.asarray(fun(*plus)) - np.asarray(fun(*minus))) / (2 * eps)
    return jac


def _float_argnums(args):
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


def test_registry_is_populated():
    assert {"add", "matmul", "logsumexp", "getitem", "sign"} <= set(ALL_PRIMITIVES)


def test_specs_layers_is_importable_from_tests_dir():
    # tests/ is on sys.path (rootdir conftest), so both spec modules import by name
    import specs_engine

    assert specs_engine.ENGINE_SPECS is ENGINE_SPECS


@pytest.mark.parametrize("name", ALL_PRIMITIVES)
def test_every_primitive_has_a_spec(name):
    prim = REGISTRY[name]
    if not prim.differentiable:
        assert name in NON_DIFFERENTIABLE or name in LAYER_STEPS, (
            f"non-differentiable primitive {name!r} has no check: add it to NON_DIFFERENTIABLE "
            "in tests/specs_engine.py, or to LAYER_STEPS in tests/test_layer_steps.py"
        )
    else:
        assert name in SPECS, (
            f"primitive {name!r} has no gradient spec: add one to tests/specs_engine.py "
            f"(engine) or tests/specs_layers.py (layers)"
        )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_spec_names_a_registered_primitive(name):
    assert name in REGISTRY, f"spec {name!r} names no registered primitive"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_primitive_passes_check_grads_order_2(name):
    fun, args = SPECS[name](np.random.default_rng(0))
    check_grads(fun, args, order=2)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_primitive_is_recorded_by_its_spec(name):
    """The spec really goes through the primitive (else checking it proves nothing)."""
    fun, args = SPECS[name](np.random.default_rng(0))
    seen = set()
    argnums = _float_argnums(args)
    inputs = [nb.tensor(a, requires_grad=i in argnums) for i, a in enumerate(args)]
    stack = [fun(*inputs)]
    while stack:
        t = stack.pop()
        if isinstance(t, nb.Tensor) and t._prim is not None and id(t) not in seen:
            seen.add(id(t))
            if t._prim.name == name:
                return
            stack.extend(t._args)
    pytest.fail(f"the spec for {name!r} never calls the primitive")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_batched_cotangents_give_the_finite_difference_jacobian(name):
    # jacobian pushes a whole batch of cotangents through one backward pass
    fun, args = SPECS[name](np.random.default_rng(0))
    for i in _float_argnums(args):
        jac = nb.jacobian(fun, argnums=i)(*args)
        np.testing.assert_allclose(jac, _fd_jacobian(fun, args, i), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_batched_cotangents_through_the_backward_pass(name):
    # the Jacobian of a VJP pushes a batch through the recorded backward pass (Hessian path)
    fun, args = SPECS[name](np.random.default_rng(0))
    out_shape = np.shape(np.asarray(fun(*args)))
    u = np.random.default_rng(1).standard_normal(out_shape)
    for i in _float_argnums(args):

        def pulled(x, i=i):
            call = list(args)
            call[i] = x
            return nb.vjp(lambda z: fun(*call[:i], z, *call[i + 1:]), x)[1](u)[0]

        jac = nb.jacobian(pulled)(args[i])
        numeric = _fd_jacobian(lambda *a, i=i: np.asarray(pulled(a[i])), args, i)
        np.testing.assert_allclose(jac, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable_primitive_records_nothing(name):
    fun, args = NON_DIFFERENTIABLE[name](np.random.default_rng(0))
    x = nb.tensor(args[0], requires_grad=True)
    out = fun(x)
    assert not out.requires_grad
    np.testing.assert_array_equal(nb.grad(lambda x: nb.sum(fun(x) * x))(args[0]), fun(args[0]))
    np.testing.assert_array_equal(nb.jacobian(fun)(args[0]), np.zeros(args[0].shape * 2))
