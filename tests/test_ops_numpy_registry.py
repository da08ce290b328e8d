"""The registry walk for NumPy's differentiable API (issue 17).

Every primitive that the new op modules define has a spec; every spec (primitive or
composition) passes ``check_grads`` to order 2, gives the finite-difference Jacobian
through a batch of cotangents and the finite-difference Hessian, matches its PyTorch
twin to 1e-10 in float64, and (once ``nb.jvp`` exists) forward mode agrees with
reverse mode.
"""

import importlib

import numpy as np
import pytest

import nablanet as nb
from nablanet.autodiff import Primitive
from nablanet.checks import check_grads
from specs_engine import ENGINE_SPECS
from specs_engine import NON_DIFFERENTIABLE as ENGINE_NON_DIFFERENTIABLE
from specs_numpy import (
    FUNCTION_SPECS,
    NON_DIFFERENTIABLE,
    NUMPY_SPECS,
    SYMMETRIC_TWINS,
    TORCH_TWINS,
)

MODULES = [
    importlib.import_module(f"nablanet.ops.{name}")
    for name in ("assembly", "contraction", "elementwise", "linalg_decomp", "linalg_solve",
                 "norms", "scans")
]
ENGINE_NAMES = set(ENGINE_SPECS) | set(ENGINE_NON_DIFFERENTIABLE)
ALL_SPECS = {**NUMPY_SPECS, **FUNCTION_SPECS}


def _own_primitives():
    found = {}
    for module in MODULES:
        for value in vars(module).values():
            value = getattr(value, "prim", value)  # linalg's primitives behind an error filter
            if isinstance(value, Primitive) and value.name not in ENGINE_NAMES:
                found[value.name] = value
    return found


OWN = _own_primitives()


def _fd_jacobian(fun, args, i, eps=1e-6):
    x = np.asarray(args[i], dtype=float)
    out = np.asarray(fun(*args))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        plus, minus = list(args), list(args)
        plus[i], minus[i] = x + step, x - step
        jac[(Ellipsis,) + idx] = (np.asarray(fun(*plus)) - np.asarray(fun(*minus))) / (2 * eps)
    return jac


def _float_argnums(args):
    return [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


def test_the_new_modules_define_primitives():
    assert {"sin", "prod", "cumsum", "einsum", "eigh", "svd", "pad_constant"} <= set(OWN)


@pytest.mark.parametrize("name", sorted(OWN))
def test_every_new_primitive_has_a_spec(name):
    if OWN[name].differentiable:
        assert name in NUMPY_SPECS, f"primitive {name!r} has no spec in tests/specs_numpy.py"
    else:
        assert name in NON_DIFFERENTIABLE, f"{name!r} is missing from NON_DIFFERENTIABLE"


@pytest.mark.parametrize("name", sorted(FUNCTION_SPECS))
def test_check_grads_to_order_2(name):
    # the primitives' own specs are walked by tests/test_ops_registry.py; these are the
    # public functions composed of them
    fun, args = FUNCTION_SPECS[name](np.random.default_rng(0))
    check_grads(fun, args, order=2)


@pytest.mark.parametrize("name", sorted(FUNCTION_SPECS))
def test_jacobian_of_composition_by_a_batch_of_cotangents(name):
    fun, args = FUNCTION_SPECS[name](np.random.default_rng(0))
    for i in _float_argnums(args):
        jac = nb.jacobian(fun, argnums=i)(*args)
        np.testing.assert_allclose(jac, _fd_jacobian(fun, args, i), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_hessian_matches_finite_differences_of_the_gradient(name):
    fun, args = ALL_SPECS[name](np.random.default_rng(0))
    u = np.random.default_rng(1).standard_normal(np.shape(np.asarray(fun(*args))))
    for i in _float_argnums(args):

        def scalar(x, i=i):
            call = list(args)
            call[i] = x
            return nb.sum(fun(*call) * u)

        hess = nb.hessian(scalar)(args[i])
        gradient = nb.grad(scalar)
        numeric = _fd_jacobian(lambda x: np.asarray(gradient(x)), [args[i]], 0)
        np.testing.assert_allclose(hess, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable_primitive_has_zero_derivative(name):
    fun, args = NON_DIFFERENTIABLE[name](np.random.default_rng(0))
    out = fun(nb.tensor(args[0], requires_grad=True))
    assert not out.requires_grad
    np.testing.assert_array_equal(nb.grad(lambda x: nb.sum(fun(x) * x))(args[0]), fun(args[0]))


def _torch_check(torch, nb_fun, torch_fun, args):
    values = nb_fun(*args)
    targs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    tout = torch_fun(*targs)
    np.testing.assert_allclose(np.asarray(values), tout.detach().numpy(), rtol=1e-10, atol=1e-10)
    u = np.random.default_rng(2).standard_normal(np.shape(np.asarray(values)))
    grads = torch.autograd.grad((tout * torch.tensor(u)).sum(), targs)
    for i in range(len(args)):
        ours = nb.grad(lambda *a: nb.sum(nb_fun(*a) * u), argnums=i)(*args)
        np.testing.assert_allclose(ours, grads[i].numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(TORCH_TWINS))
def test_pytorch_twin_to_1e_10(name):
    torch = pytest.importorskip("torch")
    fun, args = ALL_SPECS[name](np.random.default_rng(0))
    _torch_check(torch, fun, TORCH_TWINS[name](torch), args)


@pytest.mark.parametrize("name", sorted(SYMMETRIC_TWINS))
def test_pytorch_twin_on_a_symmetric_parametrisation(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    ours, theirs = SYMMETRIC_TWINS[name]
    _torch_check(torch, ours, theirs(torch), [x])


@pytest.mark.parametrize("name", sorted(ALL_SPECS))
def test_forward_mode_equals_reverse_mode(name):
    if not hasattr(nb, "jvp"):
        pytest.skip("nb.jvp (forward mode) is not in this build")
    fun, args = ALL_SPECS[name](np.random.default_rng(0))
    rng = np.random.default_rng(3)
    argnums = _float_argnums(args)
    u = rng.standard_normal(np.shape(np.asarray(fun(*args))))
    for i in argnums:
        v = rng.standard_normal(np.shape(args[i]))

        def of_one(x, i=i):
            call = list(args)
            call[i] = x
            return fun(*call)

        _, tangent = nb.jvp(of_one, (args[i],), (v,))
        _, pull = nb.vjp(of_one, args[i])
        np.testing.assert_allclose(np.sum(np.asarray(tangent) * u),
                                   np.sum(np.asarray(pull(u)[0]) * v), rtol=1e-9, atol=1e-9)


def test_lazy_name_table_lists_every_public_name():
    from nablanet.ops._numpy_names import NUMPY_API

    for module_name, names in NUMPY_API.items():
        assert tuple(importlib.import_module(module_name).__all__) == names
        for name in names:
            assert getattr(nb, name) is getattr(importlib.import_module(module_name), name)


def test_import_nablanet_loads_neither_the_numpy_api_nor_scipy():
    import subprocess
    import sys

    code = ("import sys, nablanet; print(sorted(m for m in sys.modules if m in "
            "('scipy', 'nablanet.ops.scans', 'nablanet.ops.linalg_decomp', 'nablanet.linalg')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dir_of_nablanet_lists_the_lazily_loaded_api():
    names = dir(nb)
    assert {"var", "einsum", "linalg", "nn", "curvature", "MLPClassifier"} <= set(names)
    for name in ("var", "einsum", "linalg"):
        assert getattr(nb, name) is not None
