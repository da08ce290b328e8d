"""``nn.init`` against PyTorch's formulas (gains, fans) and the distributions it draws."""

import math

import numpy as np
import pytest

from nablanet import nn

torch = pytest.importorskip("torch")

NONLINEARITIES = ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("name", NONLINEARITIES)
def test_gain_matches_torch(name):
    assert nn.init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    if name == "leaky_relu":
        assert nn.init.calculate_gain(name, 0.2) == torch.nn.init.calculate_gain(name, 0.2)


def test_gain_refuses_unknown_names_and_slopes():
    with pytest.raises(ValueError, match="unsupported"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        nn.init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(3, 4), (5, 2, 3, 3), (1, 7)])
def test_fans_match_torch(shape):
    from nablanet.nn.init import _fans

    ours = _fans(np.zeros(shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


@pytest.mark.parametrize("init, bound", [
    (lambda w, g: nn.init.xavier_uniform_(w, gain=2.0, generator=g), 2 * math.sqrt(6 / 700)),
    (lambda w, g: nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g), 1 / math.sqrt(400)),
    (lambda w, g: nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu", generator=g),
     math.sqrt(6 / 300)),
    (lambda w, g: nn.init.uniform_(w, -0.3, 0.3, generator=g), 0.3),
], ids=["xavier", "kaiming-linear-default", "kaiming-fan-out-relu", "uniform"])
def test_uniform_initialisers_fill_their_interval(init, bound):
    w = nn.Parameter(np.zeros((300, 400)))
    data = w.data
    assert init(w, np.random.default_rng(0)) is w and w.data is data  # in place
    values = w.numpy()
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.01 * bound


@pytest.mark.parametrize("init, std", [
    (lambda w, g: nn.init.xavier_normal_(w, generator=g), math.sqrt(2 / 700)),
    (lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="tanh", generator=g), 5 / 3 / 20),
    (lambda w, g: nn.init.normal_(w, 1.0, 0.5, generator=g), 0.5),
], ids=["xavier", "kaiming-tanh", "normal"])
def test_normal_initialisers_have_their_std(init, std):
    w = init(np.zeros((300, 400), dtype=np.float32), np.random.default_rng(1))
    assert w.dtype == np.float32
    assert abs(w.std() - std) < 0.01 * std


def test_torch_draws_within_the_same_bounds():
    w = torch.empty(300, 400)
    torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    assert w.abs().max().item() <= 1 / math.sqrt(400)


def test_constants_eye_and_errors():
    layer = nn.Linear(3, 3)
    nn.init.eye_(layer.weight)
    nn.init.constant_(layer.bias, 0.5)
    np.testing.assert_array_equal(layer(np.eye(3)).numpy(), np.eye(3) + 0.5)
    nn.init.ones_(layer.bias)
    nn.init.zeros_(layer.weight)
    np.testing.assert_array_equal(layer(np.eye(3)).numpy(), np.ones((3, 3)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(layer.bias)
    with pytest.raises(TypeError, match="floating"):
        nn.init.zeros_(np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="fan_in"):
        nn.init.kaiming_normal_(layer.weight, mode="fan")
