"""Layers: initialisation, shapes, errors, dropout modules, the MLP builder."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import nn


def test_linear_default_init_bounds_and_layout():
    layer = nn.Linear(400, 30, generator=np.random.default_rng(0))
    bound = 1 / np.sqrt(400)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.shape == (30, 400) and b.shape == (30,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # uniform on [-bound, bound]: variance bound^2 / 3
    assert abs(w.var() - bound**2 / 3) < 0.05 * bound**2 / 3
    assert np.abs(w).max() > 0.99 * bound


def test_linear_seeded_reproducible_and_no_bias():
    a = nn.Linear(3, 2, generator=np.random.default_rng(5))
    b = nn.Linear(3, 2, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    layer = nn.Linear(3, 2, bias=False, generator=np.random.default_rng(0))
    assert layer.bias is None and len(list(layer.parameters())) == 1
    x = np.ones((4, 3))
    np.testing.assert_allclose(layer(x).numpy(), x @ layer.weight.numpy().T)


def test_linear_shape_error():
    layer = nn.Linear(3, 2, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3\), got shape \(4, 5\)"):
        layer(np.ones((4, 5)))


def test_batchnorm_errors_name_shapes():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"\(N, 4\) or \(N, 4, L\), got shape \(2, 3\)"):
        bn(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 5\)"):
        bn(np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match=r"got shape \(2, 4, 5, 1\)"):
        bn(np.ones((2, 4, 5, 1)))
    with pytest.raises(ValueError, match="batch of 1"):
        bn(np.ones((1, 4)))


def test_batchnorm_without_tracking_uses_batch_stats_in_eval(rng):
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    x = rng.standard_normal((5, 2))
    np.testing.assert_allclose(bn(x), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    assert bn.running_mean is None and list(bn.parameters()) == []


def test_dropout_modules(rng):
    drop = nn.Dropout(0.5, generator=np.random.default_rng(0))
    x = np.ones((100, 100))
    out = drop(x)
    assert set(np.unique(out)) == {0.0, 2.0}
    assert drop.eval()(x) is x
    bare = nn.Dropout(0.5, inverted=False, generator=np.random.default_rng(0))
    assert set(np.unique(bare(x))) == {0.0, 1.0}
    gd = nn.GaussianDropout(p=0.2, generator=np.random.default_rng(0))
    assert gd.sigma2 == pytest.approx(0.25)
    assert abs(gd(np.ones(100_000)).var() - 0.25) < 0.01
    with pytest.raises(ValueError, match="exactly one"):
        nn.GaussianDropout(p=0.2, sigma2=0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(1.2)


def test_activation_modules(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x), np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(nn.ReLU()(x), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid()(x), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.Tanh()(x), np.tanh(x))
    np.testing.assert_allclose(nn.Softmax(dim=0)(x).sum(0), np.ones(4))
    np.testing.assert_allclose(np.exp(nn.LogSoftmax(dim=1)(x)).sum(1), np.ones(3))


def test_loss_modules(rng):
    z = rng.standard_normal((4, 3))
    labels = np.array([0, 2, 1, 1])
    np.testing.assert_allclose(nn.CrossEntropyLoss()(z, labels), nb.ops.cross_entropy(z, labels))
    y = rng.uniform(size=(4, 3))
    np.testing.assert_allclose(nn.BCEWithLogitsLoss(reduction="sum")(z, y),
                               nb.ops.binary_cross_entropy_with_logits(z, y, "sum"))
    np.testing.assert_allclose(nn.BCELoss()(nb.ops.sigmoid(z), y),
                               nb.ops.binary_cross_entropy_with_logits(z, y), rtol=1e-12)
    np.testing.assert_allclose(nn.MSELoss()(z, y), np.mean((z - y) ** 2))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="total")


def test_mlp_is_the_notes_network():
    net = nn.MLP(5, 4, 3, generator=np.random.default_rng(0))
    assert [type(m).__name__ for m in net] == ["Linear", "LeakyReLU", "Dropout", "Linear"]
    assert net[1].negative_slope == 0.1 and net[2].p == 0.2
    deep = nn.MLP(5, [8, 6], 2, activation="tanh", batch_norm=True, dropout=0)
    assert [type(m).__name__ for m in deep] == [
        "Linear", "BatchNorm1d", "Tanh", "Linear", "BatchNorm1d", "Tanh", "Linear"
    ]
    assert deep(np.ones((3, 5))).shape == (3, 2)
    with pytest.raises(ValueError, match="activation"):
        nn.MLP(5, 4, 3, activation="swish")


def test_mlp_trains_down(rng):
    x = rng.standard_normal((64, 4))
    labels = (x[:, 0] + x[:, 1] > 0).astype(int)
    net = nn.MLP(4, 16, 2, batch_norm=True, generator=np.random.default_rng(1))
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(60):
        net.zero_grad()
        loss = loss_fn(net(x), labels)
        loss.backward()
        first = loss.item() if first is None else first
        for p in net.parameters():
            p.data -= 0.5 * p.grad.data
    assert loss.item() < 0.5 * first


def test_batchnorm_on_sequences_has_second_derivatives():
    from nablanet.checks import check_grads

    bn = nn.BatchNorm1d(2)
    bn.weight.data[...] = [1.5, -0.5]
    x = np.random.default_rng(3).standard_normal((3, 2, 4))
    weights = np.random.default_rng(4).standard_normal((3, 2, 4))
    check_grads(lambda v: nb.sum(nb.tanh(bn(v)) * weights), (x,), order=2)
