"""Curvature operators against their dense definitions (float64, a few hundred parameters)."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import curvature, nn
from nablanet.models._mlp_newton import _functional_loss
from nablanet.nn.functional import linear

EXACT = 1e-10


def _relative(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _net(seed=0, hidden=(9, 7), d=5, c=4, activation="tanh", batch_norm=False, dropout=0.0):
    rng = np.random.default_rng(seed)
    return nn.MLP(d, hidden, c, activation=activation, batch_norm=batch_norm, dropout=dropout,
                  generator=rng)


def _data(seed=1, n=40, d=5, c=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def _flat(net):
    return np.concatenate([p.data.ravel() for p in net.parameters()])


def _forward(net, theta, X):
    """An independent functional forward of a plain MLP (Linear + activation)."""
    h, start = X, 0
    for layer in net:
        if type(layer).__name__ == "Linear":
            W, b = layer.weight, layer.bias
            w = nb.reshape(theta[start:start + W.size], W.shape)
            start += W.size
            bias = theta[start:start + b.size]
            start += b.size
            h = linear(h, w, bias)
        elif type(layer).__name__ == "Tanh":
            h = nb.tanh(h)
        elif type(layer).__name__ != "Dropout":
            h = layer(h)
    return h


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_hessian_equals_nb_hessian_of_the_flattened_loss(batch_size):
    net, (X, y) = _net(), _data()
    H = curvature.operator(net, nn.CrossEntropyLoss(), X, y, batch_size=batch_size).to_dense()
    reference = nb.hessian(_functional_loss(net, X, y))(_flat(net))
    assert H.shape == (net_size := _flat(net).size, net_size)
    assert _relative(H, reference) < EXACT


def test_hessian_equals_torch_func_hessian_on_the_same_weights():
    torch = pytest.importorskip("torch")
    net, (X, y) = _net(activation="leaky_relu"), _data()
    H = curvature.operator(net, nn.CrossEntropyLoss(), X, y, batch_size=16).to_dense()
    layers = [m for m in net if type(m).__name__ == "Linear"]
    shapes = [(m.weight.shape, m.bias.shape) for m in layers]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def loss(theta):
        h, start = Xt, 0
        for i, (ws, bs) in enumerate(shapes):
            nw, nb_ = int(np.prod(ws)), int(np.prod(bs))
            w = theta[start:start + nw].reshape(ws)
            b = theta[start + nw:start + nw + nb_]
            start += nw + nb_
            h = h @ w.T + b
            if i < len(shapes) - 1:
                h = torch.nn.functional.leaky_relu(h, 0.1)
        return torch.nn.functional.cross_entropy(h, yt)

    reference = torch.func.hessian(loss)(torch.tensor(_flat(net))).numpy()
    assert _relative(H, reference) < EXACT


def test_ggn_equals_jt_hout_j_from_jacobian_and_is_psd():
    net, (X, y) = _net(), _data()
    G = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn", batch_size=9).to_dense()
    theta = _flat(net)
    J = nb.jacobian(lambda t: _forward(net, t, X))(theta).reshape(X.shape[0], 4, -1)
    p = _softmax(np.asarray(_forward(net, theta, X)))
    H_out = (np.einsum("ic,cd->icd", p, np.eye(4)) - np.einsum("ic,id->icd", p, p)) / len(X)
    reference = np.einsum("icp,icd,idq->pq", J, H_out, J)
    assert _relative(G, reference) < EXACT
    assert np.linalg.eigvalsh(G).min() >= -1e-12 * np.abs(G).max()  # PSD (C7 through J)
    H = curvature.operator(net, nn.CrossEntropyLoss(), X, y).to_dense()
    assert np.linalg.eigvalsh(H).min() < -1e-6  # the Hessian is not PSD here


def test_ggn_of_mse_is_two_jt_j_over_nc():
    net, (X, _) = _net(), _data()
    Y = np.random.default_rng(3).standard_normal((X.shape[0], 4))
    G = curvature.operator(net, nn.MSELoss(), X, Y, kind="ggn", batch_size=11).to_dense()
    J = nb.jacobian(lambda t: _forward(net, t, X))(_flat(net)).reshape(X.shape[0] * 4, -1)
    assert _relative(G, 2 * J.T @ J / J.shape[0]) < EXACT


def test_ggn_of_a_generic_loss_uses_its_autodiff_output_hessian():
    net, (X, y) = _net(), _data()
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    G = curvature.operator(net, nn.CrossEntropyLoss(weight=weight, reduction="sum"), X, y,
                           kind="ggn", batch_size=13).to_dense()
    theta = _flat(net)
    J = nb.jacobian(lambda t: _forward(net, t, X))(theta).reshape(X.shape[0], 4, -1)
    p = _softmax(np.asarray(_forward(net, theta, X)))
    H_out = weight[y][:, None, None] * (np.einsum("ic,cd->icd", p, np.eye(4))
                                        - np.einsum("ic,id->icd", p, p))
    assert _relative(G, np.einsum("icp,icd,idq->pq", J, H_out, J)) < EXACT


def _per_sample_gradients(net, X, y):
    theta = _flat(net)
    return np.stack([
        nb.grad(lambda t, i=i: nn.CrossEntropyLoss()(_forward(net, t, X[i:i + 1]), y[i:i + 1]))(
            theta) for i in range(len(X))])


def test_empirical_fisher_equals_mean_outer_product_of_per_sample_gradients():
    net, (X, y) = _net(), _data()
    F = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="empirical_fisher",
                           batch_size=6).to_dense()
    g = _per_sample_gradients(net, X, y)
    assert _relative(F, g.T @ g / len(X)) < EXACT
    F_sum = curvature.operator(net, nn.CrossEntropyLoss(reduction="sum"), X, y,
                               kind="empirical_fisher").to_dense()
    assert _relative(F_sum, g.T @ g) < EXACT


def test_mc_fisher_is_the_outer_products_at_its_drawn_targets_and_tends_to_the_ggn():
    net, (X, y) = _net(), _data()
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="fisher", random_state=0,
                            mc_samples=3)
    F = op.to_dense()
    drawn = op._fisher_targets[0]
    g = [_per_sample_gradients(net, X, t) for t in drawn]
    reference = sum(gi.T @ gi for gi in g) / (len(X) * len(drawn))
    assert _relative(F, reference) < EXACT
    assert np.allclose(F, op.to_dense(), rtol=0, atol=0)  # the draws are fixed
    again = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="fisher",
                               random_state=0, mc_samples=3).to_dense()
    assert np.array_equal(F, again)
    many = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="fisher",
                              random_state=1, mc_samples=400).to_dense()
    G = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn").to_dense()
    assert np.linalg.norm(many - G) < 0.15 * np.linalg.norm(G)


@pytest.mark.parametrize("loss", [nn.MSELoss(), nn.BCEWithLogitsLoss()])
def test_mc_fisher_of_mse_and_bce_tends_to_their_ggn(loss):
    net, (X, _) = _net(), _data()
    rng = np.random.default_rng(5)
    Y = rng.standard_normal((len(X), 4)) if isinstance(loss, nn.MSELoss) else (
        rng.random((len(X), 4)) < 0.5).astype(float)
    many = curvature.operator(net, loss, X, Y, kind="fisher", random_state=2,
                              mc_samples=600).to_dense()
    G = curvature.operator(net, loss, X, Y, kind="ggn").to_dense()
    assert np.linalg.norm(many - G) < 0.15 * np.linalg.norm(G)


def test_matvec_matmat_and_scipy_algebra_agree_with_the_dense_matrix():
    from scipy.sparse.linalg import cg

    net, (X, y) = _net(), _data()
    G = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn")
    D = G.to_dense()
    rng = np.random.default_rng(0)
    v, V = rng.standard_normal(D.shape[0]), rng.standard_normal((D.shape[0], 3))
    assert _relative(G @ v, D @ v) < EXACT
    assert _relative(G.matmat(V), D @ V) < EXACT
    assert _relative((2 * G + G) @ v, 3 * D @ v) < EXACT
    assert _relative(G.T @ v, D @ v) < EXACT
    damped = G + 0.1 * __import__("scipy.sparse.linalg", fromlist=["x"]).aslinearoperator(
        np.eye(D.shape[0]))
    x, info = cg(damped, v, rtol=1e-12, maxiter=500)
    assert info == 0 and _relative(x, np.linalg.solve(D + 0.1 * np.eye(D.shape[0]), v)) < 1e-8


def test_loss_and_gradient_match_the_engine():
    net, (X, y) = _net(), _data()
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn", batch_size=9)
    value, g = op.loss_and_gradient()
    ref_value, ref_g = nb.value_and_grad(_functional_loss(net, X, y))(_flat(net))
    assert abs(value - float(ref_value)) < 1e-12 and _relative(g, ref_g) < EXACT


def test_parameters_and_modes_are_restored_and_the_operator_is_a_snapshot():
    net, (X, y) = _net(dropout=0.3), _data()
    net.train()
    before = [p for p in net.parameters()]
    values = [p.data.copy() for p in before]
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y)
    v = np.random.default_rng(0).standard_normal(op.shape[0])
    first = op @ v
    assert all(m.training for m in net.modules())
    assert [p for p in net.parameters()] == before
    assert all(np.array_equal(p.data, w) for p, w in zip(before, values))
    assert np.array_equal(first, op @ v)  # dropout off: deterministic
    net.eval()
    reference = curvature.operator(net, nn.CrossEntropyLoss(), X, y, cache=False)
    assert _relative(first, reference @ v) < EXACT
    assert not any(m.training for m in net.modules())


def test_batch_norm_eval_mode_by_default_and_train_mode_on_request():
    net, (X, y) = _net(batch_norm=True, activation="tanh"), _data()
    net.train()
    net(X)  # some running statistics
    bn = [m for m in net if type(m).__name__ == "BatchNorm1d"]
    stats = [(m.running_mean.data.copy(), m.running_var.data.copy(),
              m.num_batches_tracked.data.copy()) for m in bn]
    H_eval = curvature.operator(net, nn.CrossEntropyLoss(), X, y, batch_size=8).to_dense()
    H_eval_whole = curvature.operator(net, nn.CrossEntropyLoss(), X, y).to_dense()
    assert _relative(H_eval, H_eval_whole) < EXACT  # samples independent: batches add up
    H_train = curvature.operator(net, nn.CrossEntropyLoss(), X, y, batch_norm="train").to_dense()
    reference = nb.hessian(_functional_loss(net, X, y))(_flat(net))  # full-batch statistics
    assert _relative(H_train, reference) < EXACT
    assert _relative(H_eval, H_train) > 1e-3
    net.eval()
    theta = _flat(net)

    def eval_loss(t):
        from nablanet.curvature._functional import ModelFunction

        fn = ModelFunction(net, nn.CrossEntropyLoss(), X, y)
        return fn.batch_loss(fn.outputs(t, slice(0, len(X))), slice(0, len(X)))

    assert _relative(H_eval, nb.hessian(eval_loss)(theta)) < EXACT
    for m, (mean, var, count) in zip(bn, stats):
        assert np.array_equal(m.running_mean.data, mean)
        assert np.array_equal(m.running_var.data, var)
        assert np.array_equal(m.num_batches_tracked.data, count)
        assert m.track_running_stats


def test_float32_products_are_close_to_float64():
    net, (X, y) = _net(), _data()
    D64 = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn").to_dense()
    op32 = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind="ggn", dtype=np.float32)
    assert op32.dtype == np.float32
    assert _relative(op32.to_dense(), D64) < 1e-4


def test_names_shapes_and_theta_follow_named_parameters():
    net, (X, y) = _net(), _data()
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y)
    assert op.names == [n for n, _ in net.named_parameters()]
    assert np.array_equal(op.theta, _flat(net))
    assert "hessian" in repr(op)


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "newton"}, "kind must be one of"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_norm": "frozen"}, "batch_norm"),
    ({"mc_samples": 0}, "mc_samples"),
    ({"dtype": np.int64}, "float dtype"),
])
def test_bad_arguments_are_refused(kwargs, match):
    net, (X, y) = _net(), _data()
    with pytest.raises((ValueError, TypeError), match=match):
        curvature.operator(net, nn.CrossEntropyLoss(), X, y, **kwargs)


def test_bad_inputs_and_losses_are_refused_with_the_fix():
    net, (X, y) = _net(), _data()
    with pytest.raises(ValueError, match="one entry per sample"):
        curvature.operator(net, nn.CrossEntropyLoss(), X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        curvature.operator(net, nn.CrossEntropyLoss(), np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="at least one sample"):
        curvature.operator(net, nn.CrossEntropyLoss(), X[:0], y[:0])
    with pytest.raises(TypeError, match="Module"):
        curvature.operator(lambda x: x, nn.CrossEntropyLoss(), X, y)
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        curvature.operator(net, nn.CrossEntropyLoss(reduction="none"), X, y)
    with pytest.raises(ValueError, match="reduction='sum'"):
        curvature.operator(net, nn.CrossEntropyLoss(weight=np.ones(4)), X, y)
    with pytest.raises(ValueError, match="ignore_index"):
        curvature.operator(net, nn.CrossEntropyLoss(), X, np.where(y == 0, -100, y))
    with pytest.raises(ValueError, match="kind='ggn'"):
        curvature.operator(net, lambda out, t: nb.sum(out * out), X, y, kind="fisher")
    with pytest.raises(ValueError, match="scalar"):
        bad = curvature.operator(net, lambda out, t: out * 1.0, X, y)
        bad.matvec(np.ones(bad.shape[0]))
    bn_net = _net(batch_norm=True)
    with pytest.raises(ValueError, match="batch of 1 row"):
        curvature.operator(bn_net, nn.CrossEntropyLoss(), X[:9], y[:9], batch_size=4,
                           batch_norm="train")


def test_to_dense_refuses_above_the_limit_with_a_clear_message():
    net, (X, y) = _net(), _data()
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y)
    with pytest.raises(ValueError, match="above the limit of 10.*eigenvalues"):
        op.to_dense(max_params=10)
    with pytest.raises(ValueError, match="above the limit"):
        op.diagonal(method="exact", max_params=10)


def test_a_model_whose_outputs_ignore_a_parameter_gets_zero_rows():
    rng = np.random.default_rng(0)

    class Partial(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(3, 2, generator=rng)
            self.unused = nn.Linear(2, 2, generator=rng)

        def forward(self, x):
            return self.used(x)

    net = Partial()
    X, y = rng.standard_normal((10, 3)), rng.integers(0, 2, 10)
    for kind in ("hessian", "ggn", "empirical_fisher"):
        D = curvature.operator(net, nn.CrossEntropyLoss(), X, y, kind=kind).to_dense()
        assert np.all(D[8:] == 0) and np.all(D[:, 8:] == 0) and np.abs(D[:8, :8]).max() > 0


def test_ggn_of_summed_cross_entropy_leaves_out_ignored_labels():
    net, (X, y) = _net(), _data()
    y = np.where(np.arange(len(y)) % 5 == 0, -100, y)
    G = curvature.operator(net, nn.CrossEntropyLoss(reduction="sum"), X, y, kind="ggn",
                           batch_size=9).to_dense()
    keep = y != -100
    reference = curvature.operator(net, nn.CrossEntropyLoss(reduction="sum"), X[keep],
                                   y[keep], kind="ggn").to_dense()
    assert _relative(G, reference) < EXACT
    H = curvature.operator(net, nn.CrossEntropyLoss(reduction="sum"), X, y).to_dense()
    H_kept = curvature.operator(net, nn.CrossEntropyLoss(reduction="sum"), X[keep],
                                y[keep]).to_dense()
    assert _relative(H, H_kept) < EXACT


def test_a_shared_parameter_is_one_block_of_the_vector():
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 3, generator=rng)
    net = nn.Sequential(layer, nn.Tanh(), layer)
    X, y = rng.standard_normal((10, 3)), rng.integers(0, 3, 10)
    op = curvature.operator(net, nn.CrossEntropyLoss(), X, y)
    assert op.shape == (12, 12) and op.names == ["0.weight", "0.bias"]

    def loss(t):
        w, b = nb.reshape(t[:9], (3, 3)), t[9:]
        z = linear(nb.tanh(linear(X, w, b)), w, b)
        return nn.CrossEntropyLoss()(z, y)

    assert _relative(op.to_dense(), nb.hessian(loss)(_flat(net))) < EXACT
    assert net[0] is layer and net[2].weight is layer.weight


@pytest.mark.parametrize("kind", ["hessian", "ggn", "fisher", "empirical_fisher"])
def test_every_kind_refuses_targets_the_loss_refuses(kind):
    rng = np.random.default_rng(0)
    net = nn.MLP(4, [5], 3, dropout=0.0, generator=rng)
    X, y = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    with pytest.raises(ValueError, match="class labels must lie in"):
        curvature.operator(net, nn.CrossEntropyLoss(), X, y + 5, kind=kind,
                           random_state=0).matvec(np.ones(sum(p.size for p in
                                                              net.parameters())))
