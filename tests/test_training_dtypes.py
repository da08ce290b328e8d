"""Float32 end to end: one training step of the notes' network never upcasts what it keeps."""

import numpy as np
import pytest

from nablanet import nn
from nablanet.optim import SGD, Adam

F32 = np.dtype(np.float32)


def _network(rng):
    return nn.MLP(12, 8, 3, negative_slope=0.1, batch_norm=True, dropout=0.2,
                  generator=rng, dtype=np.float32)


def _forward_recording(net, x):
    """Run the layers one by one, returning the output and every activation's dtype."""
    dtypes = []
    h = x
    for layer in net:
        h = layer(h)
        dtypes.append((type(layer).__name__, h.dtype))
    return h, dtypes


@pytest.mark.parametrize("make_optimizer", [
    lambda params: SGD(params, lr=0.1, momentum=0.9),
    lambda params: Adam(params, lr=0.01),
], ids=["sgd-momentum", "adam"])
def test_one_training_step_stays_float32(rng, make_optimizer):
    net = _network(rng)
    opt = make_optimizer(net.parameters())
    x = rng.random((16, 12), dtype=np.float32)
    labels = rng.integers(0, 3, 16)
    before = [p.data.copy() for p in net.parameters()]

    opt.zero_grad()
    logits, activations = _forward_recording(net, x)
    loss = nn.CrossEntropyLoss()(logits, labels)
    loss.backward()
    opt.step()

    assert [name for name, _ in activations] == [
        "Linear", "BatchNorm1d", "LeakyReLU", "Dropout", "Linear"]
    assert all(dtype == F32 for _, dtype in activations), activations
    assert loss.dtype == F32
    for (name, p), old in zip(net.named_parameters(), before, strict=True):
        assert p.dtype == F32, name
        assert p.grad is not None and p.grad.dtype == F32, name
        assert not np.array_equal(p.data, old), f"{name} was not updated"
    for name, buffer in net.named_buffers():
        if buffer.data.dtype.kind == "f":
            assert buffer.dtype == F32, name
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == F32, key
    assert opt.state, "the optimiser kept no state"


def test_float32_gradients_match_float64_closely(rng):
    # the float32 step computes the same gradient as float64, to float32 precision
    x = rng.random((16, 12))
    labels = rng.integers(0, 3, 16)
    grads = {}
    for dtype in (np.float32, np.float64):
        net = nn.MLP(12, 8, 3, batch_norm=True, dropout=0.0,
                     generator=np.random.default_rng(1), dtype=dtype)
        nn.CrossEntropyLoss()(net(x.astype(dtype)), labels).backward()
        grads[dtype] = [p.grad.numpy() for p in net.parameters()]
    for g32, g64 in zip(grads[np.float32], grads[np.float64], strict=True):
        assert g32.dtype == F32
        np.testing.assert_allclose(g32, g64, rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("layer_dtype, input_dtype", [
    (np.float32, np.float64), (np.float64, np.float32), (np.float32, np.int64),
])
def test_layers_refuse_an_input_that_numpy_would_promote(layer_dtype, input_dtype):
    net = nn.MLP(4, 3, 2, batch_norm=True, generator=np.random.default_rng(0), dtype=layer_dtype)
    x = np.ones((5, 4), dtype=input_dtype)
    with pytest.raises(TypeError, match=f"input has dtype {np.dtype(input_dtype)}"):
        net(x)
    bn = nn.BatchNorm1d(4, dtype=layer_dtype)
    with pytest.raises(TypeError, match="BatchNorm1d"):
        bn(x)


def test_a_matching_input_keeps_the_layer_dtype():
    net = nn.MLP(4, 3, 2, batch_norm=True, generator=np.random.default_rng(0), dtype=np.float32)
    assert net(np.ones((5, 4), dtype=np.float32)).dtype == np.float32
    assert net(np.ones((5, 4)).tolist()).shape == (5, 2)  # lists carry no dtype to check
