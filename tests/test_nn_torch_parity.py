"""Agreement with PyTorch 2.13 in float64 (to 1e-10): outputs, input and parameter
gradients, running statistics, and second derivatives through batch norm."""

import numpy as np
import pytest

import nablanet as nb
from nablanet import nn, ops

torch = pytest.importorskip("torch")
TOL = dict(rtol=1e-10, atol=1e-10)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def _close(ours, theirs):
    ours = ours.numpy() if isinstance(ours, nb.Tensor) else np.asarray(ours)
    np.testing.assert_allclose(ours, theirs.detach().numpy(), **TOL)


def _run_both(our_fun, torch_fun, x, upstream):
    """Forward both, pull ``upstream`` back; return (ours, torch) outputs and input grads."""
    xt = _t(x, grad=True)
    out_t = torch_fun(xt)
    out_t.backward(_t(upstream))
    xn = nb.tensor(x, requires_grad=True)
    out_n = our_fun(xn)
    out_n.backward(upstream)
    return out_n, out_t, xn.grad, xt.grad


def _matched_batchnorms(rng, **options):
    """nablanet's and PyTorch's BatchNorm1d(3) with the same random gamma and beta."""
    ours = nn.BatchNorm1d(3, **options)
    theirs = torch.nn.BatchNorm1d(3, **options).double()
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    ours.weight.data[...] = gamma
    ours.bias.data[...] = beta
    with torch.no_grad():
        theirs.weight.copy_(_t(gamma))
        theirs.bias.copy_(_t(beta))
    return ours, theirs


def _training_step_matches(ours, theirs, x, up):
    """One training step of both batch norms: output, input and parameter gradients and
    running statistics agree; returns our output."""
    ours.zero_grad()
    theirs.zero_grad()
    out_n, out_t, gx_n, gx_t = _run_both(ours, theirs, x, up)
    _close(out_n, out_t)
    _close(gx_n, gx_t)
    _close(ours.weight.grad, theirs.weight.grad)
    _close(ours.bias.grad, theirs.bias.grad)
    _close(ours.running_mean, theirs.running_mean)
    _close(ours.running_var, theirs.running_var)
    return out_n


def test_linear(rng):
    ours = nn.Linear(5, 3, generator=rng)
    theirs = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        theirs.weight.copy_(_t(ours.weight.numpy()))
        theirs.bias.copy_(_t(ours.bias.numpy()))
    x, up = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    out_n, out_t, gx_n, gx_t = _run_both(ours, theirs, x, up)
    _close(out_n, out_t)
    _close(gx_n, gx_t)
    _close(ours.weight.grad, theirs.weight.grad)
    _close(ours.bias.grad, theirs.bias.grad)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_training_steps_then_eval(momentum, rng):
    ours, theirs = _matched_batchnorms(rng, momentum=momentum)
    for step in range(4):
        x = rng.standard_normal((6 + step, 3)) * 3 + 1
        _training_step_matches(ours, theirs, x, rng.standard_normal(x.shape))
        assert int(ours.num_batches_tracked.numpy()) == int(theirs.num_batches_tracked)
    ours.eval()
    theirs.eval()
    x, up = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    out_n, out_t, gx_n, gx_t = _run_both(ours, theirs, x, up)
    _close(out_n, out_t)
    _close(gx_n, gx_t)


def test_batchnorm_second_derivatives_match_double_backward(rng):
    x = rng.standard_normal((5, 3)) * 2
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    u, v = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))

    def first(x, w, b):
        return nb.sum(ops.batch_norm(x, None, None, w, b, training=True) * u)

    def second(x, w, b):
        gx = nb.grad(first, argnums=0)(x, w, b)
        return nb.sum(gx * v)

    ours = nb.grad(second, argnums=(0, 1, 2))(x, w, b)
    xt, wt, bt = _t(x, True), _t(w, True), _t(b, True)
    out = torch.nn.functional.batch_norm(xt, None, None, wt, bt, training=True)
    (gx,) = torch.autograd.grad((out * _t(u)).sum(), xt, create_graph=True)
    theirs = torch.autograd.grad((gx * _t(v)).sum(), (xt, wt, bt), allow_unused=True)
    _close(ours[0], theirs[0])
    _close(ours[1], theirs[1])
    assert theirs[2] is None or np.allclose(theirs[2].numpy(), 0)
    np.testing.assert_allclose(ours[2], 0.0, atol=1e-12)


def test_leaky_relu_including_zero(rng):
    x = np.concatenate([rng.standard_normal(6), [0.0, 0.0]])
    up = rng.standard_normal(8)
    out_n, out_t, gx_n, gx_t = _run_both(
        nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1), x, up
    )
    _close(out_n, out_t)
    _close(gx_n, gx_t)


def _loss_parity(our_loss, torch_loss, z, target, target_t=None):
    zt = _t(z, True)
    lt = torch_loss(zt, _t(target) if target_t is None else target_t)
    lt.backward()
    zn = nb.tensor(z, requires_grad=True)
    ln = our_loss(zn, target)
    ln.backward()
    _close(ln, lt)
    _close(zn.grad, zt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_indices(reduction, smoothing, weighted, rng):
    z, labels = rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)
    w = rng.uniform(0.5, 2, 4) if weighted else None
    _loss_parity(
        nn.CrossEntropyLoss(w, reduction=reduction, label_smoothing=smoothing),
        torch.nn.CrossEntropyLoss(None if w is None else _t(w), reduction=reduction,
                                  label_smoothing=smoothing),
        z, labels, torch.tensor(labels),
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probabilities(smoothing, rng):
    z, y = rng.standard_normal((6, 4)) * 3, rng.dirichlet(np.ones(4), size=6)
    w = rng.uniform(0.5, 2, 4)
    _loss_parity(nn.CrossEntropyLoss(w, label_smoothing=smoothing),
                 torch.nn.CrossEntropyLoss(_t(w), label_smoothing=smoothing), z, y)


def test_cross_entropy_ignore_index(rng):
    z, labels = rng.standard_normal((5, 3)), np.array([0, -100, 2, 1, -100])
    _loss_parity(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), z, labels,
                 torch.tensor(labels))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction, rng):
    z, y = rng.standard_normal((5, 3)) * 4, rng.uniform(size=(5, 3))
    pw, w = rng.uniform(0.5, 3, 3), rng.uniform(0.5, 2, (5, 3))
    for kwargs in ({}, {"pos_weight": pw, "weight": w}):
        ours = nn.BCEWithLogitsLoss(reduction=reduction, **kwargs)
        theirs = torch.nn.BCEWithLogitsLoss(
            reduction=reduction, **{k: _t(v) for k, v in kwargs.items()}
        )
        if reduction == "none":
            def ours_sum(a, b, ours=ours):
                return ours(a, b).sum()

            def theirs_sum(a, b, theirs=theirs):
                return theirs(a, b).sum()

            _loss_parity(ours_sum, theirs_sum, z, y)
        else:
            _loss_parity(ours, theirs, z, y)


def test_bce_with_logits_extreme(rng):
    z = np.array([-1e4, 1e4, 0.0, 30.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    _loss_parity(nn.BCEWithLogitsLoss(reduction="sum"),
                 torch.nn.BCEWithLogitsLoss(reduction="sum"), z, y)


def test_bce_probabilities(rng):
    p, y = rng.uniform(0.01, 0.99, (4, 3)), rng.uniform(size=(4, 3))
    _loss_parity(nn.BCELoss(), torch.nn.BCELoss(), p, y)
    # at p = 0, y = 0 (and p = 1, y = 1) the loss -log(1 - p) is smooth with derivative 1:
    # PyTorch's (p - y) / max(p (1 - p), 1e-12) gives 0 there, nablanet the true value (issue 16)
    edge, edge_y = np.array([0.0, 1.0, 0.3]), np.array([0.0, 1.0, 1.0])
    zn = nb.tensor(edge, requires_grad=True)
    loss = nn.BCELoss()(zn, edge_y)
    loss.backward()
    _close(loss, torch.nn.BCELoss()(_t(edge), _t(edge_y)))
    np.testing.assert_allclose(zn.grad.numpy(), [1 / 3, -1 / 3, -1 / (3 * 0.3)], **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse(reduction, rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    _loss_parity(nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), a, b)


def test_activations_and_softmax(rng):
    x = rng.standard_normal((3, 5)) * 5
    up = rng.standard_normal((3, 5))
    pairs = [
        (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
        (nn.ReLU(), torch.nn.ReLU()), (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)),
        (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)),
    ]
    for ours, theirs in pairs:
        out_n, out_t, gx_n, gx_t = _run_both(ours, theirs, x, up)
        _close(out_n, out_t)
        _close(gx_n, gx_t)


@pytest.mark.parametrize("shape", [(4, 3, 5), (1, 3, 7)])
def test_batchnorm_on_sequences_n_c_l(shape, rng):
    # (N, C, L): statistics per channel over the N L values, as torch.nn.BatchNorm1d
    ours, theirs = _matched_batchnorms(rng)
    for _ in range(2):
        x = rng.standard_normal(shape) * 2 + 1
        out = _training_step_matches(ours, theirs, x, rng.standard_normal(shape))
        assert out.shape == shape
    ours.eval()
    theirs.eval()
    x, up = rng.standard_normal(shape), rng.standard_normal(shape)
    out_n, out_t, gx_n, gx_t = _run_both(ours, theirs, x, up)
    _close(out_n, out_t)
    _close(gx_n, gx_t)


def test_batchnorm_refuses_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match="batch of 1 row"):
        nn.BatchNorm1d(3)(np.ones((1, 3, 1)))
    with pytest.raises(ValueError, match=r"\(N, 3\) or \(N, 3, L\)"):
        nn.BatchNorm1d(3)(np.ones((2, 4, 5)))
