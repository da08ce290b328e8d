"""Every registered primitive is checked: a new one without a correct rule fails here."""

import importlib
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import nablanet as nb
from nablanet.autodiff import REGISTRY
from nablanet.checks import check_grads
from test_layer_steps import LAYER_STEPS

#: The spec modules: every ``tests/specs_*.py`` (specs_engine, specs_layers, specs_numpy, ...).
SPEC_MODULES = sorted(p.stem for p in Path(__file__).parent.glob("specs_*.py"))
#: Tables of specs that are compositions, not primitives (checked by their own module's walk).
NOT_PRIMITIVE_TABLES = {"FUNCTION_SPECS"}


def _collect_specs():
    """Merge the ``*_SPECS`` and ``NON_DIFFERENTIABLE`` dicts of every spec module.

    Keys are registered primitive names (``FUNCTION_SPECS``, specs of compositions, are
    left out).  A name given twice is an error (two specs for one primitive would hide one).
    """
    specs, non_differentiable, origin, seen = {}, {}, {}, set()
    for module_name in SPEC_MODULES:
        module = importlib.import_module(module_name)
        for attr, table in vars(module).items():
            if not isinstance(table, dict) or id(table) in seen or attr in NOT_PRIMITIVE_TABLES \
                    or not (attr.endswith("SPECS") or attr == "NON_DIFFERENTIABLE"):
                continue  # (a table imported from another spec module counts once)
            seen.add(id(table))
            target = non_differentiable if attr == "NON_DIFFERENTIABLE" else specs
            for name, make in table.items():
                if name in origin:
                    raise AssertionError(
                        f"primitive {name!r} has specs in both {origin[name]} and {module_name}")
                origin[name] = module_name
                target[name] = make
    return specs, non_differentiable


SPECS, NON_DIFFERENTIABLE = _collect_specs()
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


def test_every_spec_module_is_collected():
    # tests/ is on sys.path (rootdir conftest), so the spec modules import by name
    import specs_engine
    import specs_layers

    assert {"specs_engine", "specs_layers"} <= set(SPEC_MODULES)
    assert set(specs_engine.ENGINE_SPECS) | set(specs_layers.LAYER_SPECS) <= set(SPECS)
    assert set(specs_engine.NON_DIFFERENTIABLE) <= set(NON_DIFFERENTIABLE)


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
            f"primitive {name!r} has no gradient spec: add one to a tests/specs_*.py module "
            f"(specs_engine.py: engine, specs_layers.py: layers, specs_numpy.py: NumPy ops)"
        )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_spec_names_a_registered_primitive(name):
    assert name in REGISTRY, f"spec {name!r} names no registered primitive"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_primitive_passes_check_grads_order_2(name):
    # jointly in all arguments: the VJP of the VJP along random directions of all of them
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
