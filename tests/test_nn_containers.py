"""Containers, the unregistered-module warning, dtypes and the Module utilities a PyTorch
user reaches for (``to``, ``apply``, ``zero_grad(set_to_none)``, ``requires_grad_``...)."""

import warnings
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet import nn, optim


def _linear(n_in=2, n_out=2, seed=0):
    return nn.Linear(n_in, n_out, generator=np.random.default_rng(seed))


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = layers
        self.heads = nn.ModuleDict({"a": _linear(2, 1, 5), "b": _linear(2, 3, 6)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.heads["a"](x), self.heads["b"](x)


# -- containers ---------------------------------------------------------------------------
def test_module_list_registers_parameters_with_pytorch_keys():
    net = Stack(nn.ModuleList([_linear(seed=1), nn.Tanh(), _linear(seed=2)]))
    assert list(net.state_dict()) == [
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias",
    ]
    assert len(list(net.parameters())) == 8
    net.eval()
    assert not any(m.training for m in net.modules())
    a, b = net(np.ones((4, 2)))
    (a.sum() + b.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())


def test_parameters_in_a_module_list_are_trained():
    net = Stack(nn.ModuleList([_linear(seed=1)]))
    before = net.layers[0].weight.numpy().copy()
    opt = optim.SGD(net.parameters(), lr=0.1)
    a, b = net(np.ones((3, 2)))
    (a.sum() + b.sum()).backward()
    opt.step()
    assert not np.array_equal(net.layers[0].weight.numpy(), before)


def test_module_list_behaves_as_a_list():
    layers = nn.ModuleList()
    layers.append(_linear(seed=1)).extend([nn.ReLU(), _linear(seed=2)])
    layers += [nn.Tanh()]
    assert len(layers) == 4 and isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.insert(0, nn.Sigmoid())
    assert [type(m).__name__ for m in layers] == ["Sigmoid", "Linear", "ReLU", "Linear", "Tanh"]
    assert isinstance(layers.pop(2), nn.ReLU)
    del layers[0]
    layers[0] = nn.ELU()
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2"]
    assert [type(m).__name__ for m in layers] == ["ELU", "Linear", "Tanh"]
    with pytest.raises(IndexError, match="out of range"):
        layers[3]
    with pytest.raises(TypeError, match="takes Modules"):
        layers.append(np.ones(2))
    with pytest.raises(TypeError, match="takes Modules"):
        layers.insert(0, "not a module")
    assert len(layers) == 3  # a refused insert changes nothing
    with pytest.raises(NotImplementedError):
        layers(np.ones(2))


def test_module_dict_behaves_as_a_dict():
    heads = nn.ModuleDict([("x", nn.ReLU())])
    heads["y"] = nn.Tanh()
    heads.update({"z": nn.Sigmoid()})
    assert list(heads) == ["x", "y", "z"] and "y" in heads and len(heads) == 3
    assert isinstance(heads.pop("x"), nn.ReLU)
    assert list(heads.keys()) == ["y", "z"]
    with pytest.raises(KeyError, match="no key 'x'"):
        heads["x"]
    with pytest.raises(KeyError, match="already exists"):
        heads["keys"] = nn.ReLU()
    with pytest.raises(KeyError, match="without '.'"):
        heads["a.b"] = nn.ReLU()
    heads.clear()
    assert len(heads) == 0


def test_parameter_list_and_dict_register():
    class Scales(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([np.ones(2), nb.tensor([1.0, 2.0])])
            self.named = nn.ParameterDict({"shift": np.zeros(3)})

    scales = Scales()
    assert list(scales.state_dict()) == ["ws.0", "ws.1", "named.shift"]
    assert all(p.requires_grad for p in scales.parameters())
    with pytest.raises(TypeError, match="floating"):
        scales.ws.append(np.array([1, 2]))


def test_sequential_list_methods_and_named_construction():
    seq = nn.Sequential(OrderedDict([("fc", _linear(seed=1)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.ReLU)
    assert [n for n, _ in seq[1:].named_children()] == ["act"]  # slices keep names
    seq.append(_linear(2, 1, 3))
    assert [n for n, _ in seq.named_children()] == ["fc", "act", "2"]
    seq[1] = nn.Tanh()
    assert isinstance(seq.act, nn.Tanh)
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1"]  # renumbered, as PyTorch
    assert seq(np.ones((3, 2))).shape == (3, 1)
    with pytest.raises(TypeError, match="takes Modules"):
        seq.append(lambda x: x)


# -- modules in plain containers ------------------------------------------------------------
@pytest.mark.parametrize("holder", [list, tuple, lambda ms: {str(i): m for i, m in
                                                              enumerate(ms)},
                                    lambda ms: [list(ms)]],
                         ids=["list", "tuple", "dict", "nested"])
def test_plain_container_of_modules_warns_at_traversal(holder):
    net = Stack(holder([_linear(seed=1), _linear(seed=2)]))
    with pytest.warns(nn.UnregisteredModuleWarning, match=r"Stack\.layers.*nn\.Module"):
        params = list(net.parameters())
    assert len(params) == 4  # only the ModuleDict's: the loss is named


@pytest.mark.parametrize("traverse", [
    lambda m: m.state_dict(), lambda m: m.train(), lambda m: m.eval(), lambda m: m.float(),
    lambda m: list(m.modules()), lambda m: list(m.named_buffers()),
], ids=["state_dict", "train", "eval", "to", "modules", "buffers"])
def test_every_traversal_warns(traverse):
    net = Stack([_linear(seed=1)])
    with pytest.warns(nn.UnregisteredModuleWarning):
        traverse(net)


def test_modules_listed_before_they_are_registered_do_not_warn():
    class Ordered(nn.Module):
        def __init__(self):
            super().__init__()
            layers = [_linear(seed=1), _linear(seed=2)]
            self.order = layers
            self.first, self.second = layers

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(Ordered().parameters())) == 4


def test_list_filled_after_assignment_warns_at_traversal():
    class Later(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = []
            for seed in range(2):
                self.blocks.append(_linear(seed=seed))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = Later()  # the list was empty when assigned
    with pytest.warns(nn.UnregisteredModuleWarning, match="Later.blocks is a plain list"):
        list(net.parameters())


def test_plain_parameters_warn_and_name_parameter_list():
    class Loose(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = [nn.Parameter(np.ones(2))]

    with pytest.warns(nn.UnregisteredModuleWarning, match="ParameterList"):
        Loose().state_dict()


def test_references_to_registered_modules_do_not_warn():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = _linear(seed=1), _linear(seed=2)
            self.pair = (self.encoder, self.decoder)  # both registered already
            self.sizes = [2, 3]
            self.weights = [self.encoder.weight]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = Tied()
        assert len(list(net.parameters())) == 4
        net.state_dict()


def test_warning_names_each_attribute_once():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        net = Stack([_linear(seed=1)])
        list(net.parameters())
        net.state_dict()
    assert sum(issubclass(w.category, nn.UnregisteredModuleWarning) for w in seen) == 1


# -- dtypes ---------------------------------------------------------------------------------
@pytest.fixture
def default_float32():
    nb.set_default_dtype(np.float32)
    try:
        yield
    finally:
        nb.set_default_dtype(np.float64)


def test_default_dtype_is_float64():
    assert nb.get_default_dtype() == np.float64
    assert _linear().weight.dtype == np.float64


def test_set_default_dtype_applies_to_layers_built_afterwards(default_float32):
    assert nb.get_default_dtype() == np.float32
    layers = [nn.Linear(3, 2), nn.BatchNorm1d(3), nn.LayerNorm(3), nn.MLP(3, 4, 2)]
    for layer in layers:
        assert {p.dtype for p in layer.parameters()} == {np.dtype(np.float32)}
    assert layers[1].num_batches_tracked.dtype == np.int64  # counters stay integers
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64
    x = np.ones((2, 3), dtype=np.float32)
    assert layers[0](x).dtype == np.float32


def test_parameter_from_python_floats_follows_the_default(default_float32):
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert nn.Parameter(np.array([1.0])).dtype == np.float64  # arrays keep their dtype
    assert nn.Parameter([1, 2], requires_grad=False).dtype.kind == "i"


def test_tensor_from_python_floats_follows_the_default_as_in_torch(default_float32):
    assert nb.tensor([1.0, 2.0]).dtype == np.float32
    assert nb.tensor(3.0).dtype == np.float32
    assert nb.tensor(np.array([1.0])).dtype == np.float64  # arrays keep their dtype
    assert nb.tensor(np.float64(1.0)).dtype == np.float64
    assert nb.tensor([1, 2]).dtype == np.int64  # integers are not floats
    assert nb.tensor([1.0], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("bad", [np.int64, np.float16, "complex128", None])
def test_set_default_dtype_refuses_non_float(bad):
    with pytest.raises(TypeError, match="float32 or float64"):
        nb.set_default_dtype(bad)
    assert nb.get_default_dtype() == np.float64


def test_to_float_double_keep_parameter_identity_and_convert_grads(rng):
    net = nn.Sequential(_linear(3, 4), nn.BatchNorm1d(4), nn.LayerNorm(4))
    params = list(net.parameters())
    net(rng.standard_normal((5, 3))).sum().backward()
    opt = optim.SGD(net.parameters(), lr=0.1)
    assert net.float() is net
    assert [p is q for p, q in zip(params, net.parameters())] == [True] * len(params)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    assert {p.grad.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    assert net[1].running_mean.dtype == np.float32 and net[1].num_batches_tracked.dtype.kind == "i"
    opt.step()  # the optimiser's own references now hold float32
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    out = net(rng.standard_normal((5, 3)).astype(np.float32))
    assert out.dtype == np.float32
    for spelling in (np.float64, "float64", np.dtype("float64"), nb.tensor([1.0])):
        net.float().to(spelling)
        assert net[0].weight.dtype == np.float64
    assert net.to("cpu") is net and net.cpu() is net
    assert net.to("cpu", np.float32)[0].weight.dtype == np.float32
    net.double()


def test_to_refuses_integer_dtypes_and_other_devices():
    layer = _linear()
    with pytest.raises(TypeError, match="float32 or float64"):
        layer.to(np.int32)
    with pytest.raises(ValueError, match="CPU"):
        layer.to("cuda")
    assert layer.weight.dtype == np.float64


# -- Module utilities ----------------------------------------------------------------------
def test_zero_grad_set_to_none_false_writes_zeros(rng):
    layer = _linear()
    layer(rng.standard_normal((3, 2))).sum().backward()
    layer.zero_grad(set_to_none=False)
    assert all(np.array_equal(p.grad.numpy(), np.zeros_like(p.numpy()))
               for p in layer.parameters())
    layer.zero_grad()
    assert all(p.grad is None for p in layer.parameters())


def test_requires_grad_freezes_parameters(rng):
    net = nn.Sequential(_linear(seed=1), _linear(seed=2))
    net[0].requires_grad_(False)
    net(rng.standard_normal((3, 2))).sum().backward()
    assert net[0].weight.grad is None and net[1].weight.grad is not None
    assert net.requires_grad_() is net and net[0].weight.requires_grad


def test_apply_visits_children_before_parents():
    net = nn.Sequential(_linear(seed=1), nn.Sequential(nn.ReLU(), nn.Tanh()))
    order = []
    net.apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "ReLU", "Tanh", "Sequential", "Sequential"]


def test_named_members_with_prefix_and_recurse():
    net = Stack(nn.ModuleList([_linear(seed=1)]))
    assert list(net.heads.named_parameters(prefix="heads"))[0][0] == "heads.a.weight"
    assert list(net.named_parameters(recurse=False)) == []
    assert [n for n, _ in net.layers[0].named_parameters(recurse=False)] == ["weight", "bias"]
    assert net.get_submodule("heads.b") is net.heads["b"]
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="no submodule 'c'"):
        net.get_submodule("heads.c")


def test_add_module_delattr_and_train_mode_checks():
    net = nn.Module()
    net.add_module("fc", _linear())
    assert list(net.state_dict()) == ["fc.weight", "fc.bias"]
    del net.fc
    assert list(net.state_dict()) == [] and not hasattr(net, "fc")
    with pytest.raises(TypeError, match="must be a Module"):
        net.add_module("fc", np.ones(2))
    with pytest.raises(ValueError, match="must be a bool"):
        net.train("no")


# -- list semantics, property-based -----------------------------------------------------------
_OPS = st.lists(st.tuples(st.sampled_from(["append", "insert", "pop", "del", "set", "extend"]),
                          st.integers(-6, 6)), max_size=12)


@settings(max_examples=40, deadline=None)
@given(ops=_OPS)
def test_module_list_follows_python_list_semantics(ops):
    pool = [nn.ReLU() for _ in range(30)]
    fresh = iter(pool)
    ours, model = nn.ModuleList(), []
    for op, i in ops:
        if op == "append":
            m = next(fresh)
            ours.append(m)
            model.append(m)
        elif op == "extend":
            ms = [next(fresh), next(fresh)]
            ours.extend(ms)
            model.extend(ms)
        elif op == "insert":
            m = next(fresh)
            ours.insert(i, m)
            model.insert(i, m)
        elif not model or not -len(model) <= i < len(model):
            with pytest.raises(IndexError):
                ours[i]
            continue
        elif op == "pop":
            assert ours.pop(i) is model.pop(i)
        elif op == "del":
            del ours[i]
            del model[i]
        else:
            m = next(fresh)
            ours[i] = m
            model[i] = m
        assert [id(m) for m in ours] == [id(m) for m in model]
        assert [n for n, _ in ours.named_children()] == [str(k) for k in range(len(model))]
        assert len(ours) == len(model) and list(ours[1:]) == model[1:]
