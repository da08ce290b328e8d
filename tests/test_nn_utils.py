"""``nn.utils`` against PyTorch's: clipping by norm and value, flat parameter vectors."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import nn

torch = pytest.importorskip("torch")


def _twins(rng, scale=1.0):
    grads = [rng.standard_normal((3, 4)) * scale, rng.standard_normal(4) * scale]
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for o, t, g in zip(ours, theirs, grads):
        o.grad, t.grad = nb.tensor(g), torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    ours, theirs = _twins(rng)
    got = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_nonfinite_warns_or_raises(rng):
    ours, _ = _twins(rng)
    ours[0].grad.data[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non|cannot be clipped"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.warns(RuntimeWarning, match="cannot be clipped"):
        nn.utils.clip_grad_norm_(ours, 1.0)
    assert float(nn.utils.clip_grad_norm_([nn.Parameter(np.ones(2))], 1.0)) == 0.0  # no grads


def test_clip_grad_value_matches_torch(rng):
    ours, theirs = _twins(rng, scale=3.0)
    nn.utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


def test_parameter_vector_round_trip_and_gradient(rng):
    net = nn.Sequential(nn.Linear(3, 4, generator=rng), nn.Linear(4, 2, generator=rng))
    vec = nn.utils.parameters_to_vector(net.parameters())
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in net.state_dict().items()})
    np.testing.assert_array_equal(vec.numpy(),
                                  torch.nn.utils.parameters_to_vector(theirs.parameters())
                                  .detach().numpy())
    (vec * vec).sum().backward()  # differentiable: d|v|^2/dp = 2p
    np.testing.assert_allclose(net[0].weight.grad.numpy(), 2 * net[0].weight.numpy())
    nn.utils.vector_to_parameters(np.arange(vec.shape[0], dtype=float), net.parameters())
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(net.parameters()).numpy(),
                                  np.arange(vec.shape[0]))
    with pytest.raises(ValueError, match=f"{vec.shape[0]} entries"):
        nn.utils.vector_to_parameters(np.zeros(3), net.parameters())
