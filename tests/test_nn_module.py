"""Module machinery: registration, traversal, modes, state_dict, repr."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import nn


def _net(rng):
    return nn.Sequential(nn.Linear(3, 4, generator=rng), nn.BatchNorm1d(4), nn.ReLU(),
                         nn.Dropout(0.1, generator=rng), nn.Linear(4, 2, generator=rng))


def test_parameters_and_buffers_are_found(rng):
    net = _net(rng)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias"]
    assert all(p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"
    ]
    assert len(list(net.children())) == 5 and len(list(net.modules())) == 6


def test_shared_parameter_listed_once(rng):
    layer = nn.Linear(2, 2, generator=rng)
    net = nn.Sequential(layer, layer)
    assert len(list(net.parameters())) == 2


def test_train_eval_per_module(rng):
    net = _net(rng)
    net.eval()
    assert not any(m.training for m in net.modules())
    net[3].train()
    assert net[3].training and not net[1].training


def test_backward_fills_parameter_grads(rng):
    net = _net(rng)
    loss = nn.CrossEntropyLoss()(net(rng.standard_normal((5, 3))), np.array([0, 1, 1, 0, 1]))
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_and_checks(rng):
    net, other = _net(rng), _net(np.random.default_rng(1))
    net(rng.standard_normal((6, 3)))
    state = net.state_dict()
    assert "1.running_mean" in state and "1.num_batches_tracked" in state
    other.load_state_dict(state)
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
    state["0.weight"][...] = 0  # a copy: the module is unchanged
    assert np.any(net[0].weight.numpy() != 0)
    with pytest.raises(KeyError, match=r"missing keys \['4.bias'\]"):
        other.load_state_dict({k: v for k, v in state.items() if k != "4.bias"})
    bad = dict(state)
    bad["0.weight"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(4, 3\).*got \(3, 4\)"):
        other.load_state_dict(bad)
    with pytest.raises(KeyError, match="unexpected keys"):
        other.load_state_dict({**state, "extra": np.zeros(1)})


def test_repr_is_readable(rng):
    text = repr(_net(rng))
    assert text.splitlines()[0] == "Sequential("
    assert "(0): Linear(in_features=3, out_features=4, bias=True)" in text
    assert "(1): BatchNorm1d(4, eps=1e-05, momentum=0.1" in text
    assert "(3): Dropout(p=0.1)" in text
    assert repr(nn.Parameter(np.zeros(1))).startswith("Parameter containing:")


def test_custom_module_and_errors():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.factor = nn.Parameter(np.array([2.0]))
            self.register_buffer("calls", np.zeros(()))

        def forward(self, x):
            return x * self.factor

    m = Scale()
    assert [n for n, _ in m.named_parameters()] == ["factor"]
    assert [n for n, _ in m.named_buffers()] == ["calls"]
    np.testing.assert_array_equal(m(np.array([1.5])).numpy(), [3.0])
    with pytest.raises(NotImplementedError):
        nn.Module()(1)

    class Broken(nn.Module):
        def __init__(self):
            self.x = 1

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_astype(rng):
    net = _net(rng).astype(np.float32)
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net[1].running_var.dtype == np.float32
    assert net[1].num_batches_tracked.dtype == np.int64
    out = net(rng.standard_normal((4, 3)).astype(np.float32))
    assert out.dtype == np.float32
    assert isinstance(out, nb.Tensor)
