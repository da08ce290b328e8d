"""K-FAC factors: exact where the Kronecker approximation is, and refused where undefined."""

import numpy as np
import pytest

from nablanet import curvature, nn


def _blocks(op):
    out, start = {}, 0
    for name, shape in zip(op.names, op.shapes):
        size = int(np.prod(shape))
        out[name] = slice(start, start + size)
        start += size
    return out


def _layer_slice(op, layer):
    blocks = _blocks(op)
    a, b = blocks[f"{layer}.weight"], blocks[f"{layer}.bias"]
    return slice(a.start, b.stop)


@pytest.mark.parametrize("loss, kind", [(nn.CrossEntropyLoss(), "ggn"),
                                        (nn.CrossEntropyLoss(), "empirical_fisher"),
                                        (nn.CrossEntropyLoss(), "fisher"),
                                        (nn.BCEWithLogitsLoss(), "ggn")])
def test_kfac_is_exact_for_one_sample(loss, kind):
    rng = np.random.default_rng(0)
    net = nn.MLP(4, 6, 3, activation="tanh", dropout=0.0, generator=rng)
    X = rng.standard_normal((1, 4))
    y = np.array([2]) if isinstance(loss, nn.CrossEntropyLoss) else np.array([[1.0, 0.0, 1.0]])
    op = curvature.operator(net, loss, X, y, kind=kind, random_state=0, mc_samples=2)
    D = op.to_dense()
    factors = op.kfac()
    assert [f.name for f in factors] == ["0", "2"]
    for factor in factors:
        block = _layer_slice(op, factor.name)
        assert np.abs(factor.to_dense() - D[block, block]).max() < 1e-12 * np.abs(D).max()


def test_kfac_is_exact_for_linear_regression_and_over_batches():
    rng = np.random.default_rng(1)
    net = nn.Sequential(nn.Linear(5, 3, generator=rng))
    X, Y = rng.standard_normal((30, 5)), rng.standard_normal((30, 3))
    op = curvature.operator(net, nn.MSELoss(), X, Y, kind="ggn", batch_size=7)
    (factor,) = op.kfac()
    assert factor.A.shape == (6, 6) and factor.G.shape == (3, 3) and factor.bias
    D = op.to_dense()
    assert np.abs(factor.to_dense() - D).max() < 1e-12 * np.abs(D).max()


def test_kfac_of_a_network_approximates_the_ggn_blocks():
    rng = np.random.default_rng(2)
    net = nn.MLP(4, 6, 3, activation="tanh", dropout=0.0, generator=rng)
    X, y = rng.standard_normal((50, 4)), rng.integers(0, 3, 50)
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn")
    D = op.to_dense()
    for factor in op.kfac():
        block = D[_layer_slice(op, factor.name)][:, _layer_slice(op, factor.name)]
        approx = factor.to_dense()
        assert np.linalg.eigvalsh(approx).min() > -1e-12
        assert np.linalg.norm(approx - block) < 0.5 * np.linalg.norm(block)
        assert abs(np.trace(approx) - np.trace(block)) < 0.5 * np.trace(block)


def test_kfac_refuses_the_hessian_and_models_without_linear_layers():
    rng = np.random.default_rng(0)
    net = nn.MLP(4, 6, 3, dropout=0.0, generator=rng)
    X, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)
    with pytest.raises(ValueError, match="kind='ggn'"):
        curvature.operator(net, nn.CrossEntropyLoss(), X, y).kfac()

    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.factor = nn.Parameter(np.ones(4))

        def forward(self, x):
            return x * self.factor

    with pytest.raises(ValueError, match="no Linear"):
        curvature.operator(Scale(), nn.MSELoss(), X, X, kind="ggn").kfac()
