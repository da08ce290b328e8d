"""First-order optimisers: PyTorch's update rules exactly, state_dict resume, stopping rules."""

import numpy as np
import pytest

import nablanet as nb
from nablanet.optim import GD, SGD, Adam, AdamW, EarlyStopping, StoppingRule

CASES = [
    (GD, {"lr": 0.05}, "SGD", {"lr": 0.05}),
    (SGD, {"lr": 0.05}, "SGD", {"lr": 0.05}),
    (SGD, {"lr": 0.05, "momentum": 0.9}, "SGD", {"lr": 0.05, "momentum": 0.9}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}, "SGD",
     {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    (SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True}, "SGD",
     {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    (Adam, {"lr": 0.01}, "Adam", {"lr": 0.01}),
    (Adam, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}, "Adam",
     {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    (Adam, {"lr": 0.01, "amsgrad": True}, "Adam", {"lr": 0.01, "amsgrad": True}),
    (AdamW, {"lr": 0.01}, "AdamW", {"lr": 0.01}),
    (AdamW, {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}, "AdamW",
     {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}),
]


def _fake_grad(p, k):
    # a gradient that changes with the parameters and the step, varied in sign and scale
    return np.sin(3 * p + k) * (1 + k % 3) + 0.1 * p**3


@pytest.mark.parametrize("ours, our_kwargs, theirs, their_kwargs", CASES)
def test_update_matches_torch(ours, our_kwargs, theirs, their_kwargs, rng):
    torch = pytest.importorskip("torch")
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    mine = [nb.tensor(a, requires_grad=True) for a in start]
    ref = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in start]
    opt = ours(mine, **our_kwargs)
    opt_ref = getattr(torch.optim, theirs)(ref, **their_kwargs)
    for k in range(12):
        for p, q in zip(mine, ref):
            g = _fake_grad(p.numpy(), k)
            p.grad = nb.tensor(g)
            q.grad = torch.tensor(g)
        opt.step()
        opt_ref.step()
    for p, q in zip(mine, ref):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_gd_is_the_notes_update_on_a_summed_logistic_loss(rng):
    X = rng.standard_normal((20, 3))
    y = (rng.random(20) < 0.5).astype(float)
    w0 = rng.standard_normal(3)
    w = nb.tensor(w0, requires_grad=True)
    z = nb.matmul(nb.tensor(X), w)
    loss = nb.sum(nb.maximum(z, 0.0) + nb.log1p(nb.exp(-nb.abs(z))) - nb.tensor(y) * z)
    loss.backward()
    GD([w], lr=0.1).step()
    yhat = 1 / (1 + np.exp(-X @ w0))
    np.testing.assert_allclose(w.numpy(), w0 + 0.1 * X.T @ (y - yhat), rtol=1e-13)


def test_engine_backward_and_zero_grad():
    w = nb.tensor([3.0, -1.0], requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.5)
    for _ in range(2):
        opt.zero_grad()
        assert w.grad is None
        nb.sum(w * w).backward()
        opt.step()
    # b1 = 2 w0, w1 = 0.8 w0; b2 = 0.5 * 2 w0 + 2 * 0.8 w0 = 2.6 w0; w2 = 0.8 w0 - 0.26 w0
    np.testing.assert_allclose(w.numpy(), 0.54 * np.array([3.0, -1.0]), rtol=1e-14)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])


@pytest.mark.parametrize("cls, kwargs", [(SGD, {"lr": 0.1, "momentum": 0.9}),
                                         (Adam, {"lr": 0.05, "amsgrad": True}),
                                         (AdamW, {"lr": 0.05})])
def test_state_dict_resumes_exactly(cls, kwargs, rng):
    start = rng.standard_normal(4)
    a = nb.tensor(start, requires_grad=True)
    opt = cls([a], **kwargs)
    for k in range(3):
        a.grad = nb.tensor(_fake_grad(a.numpy(), k))
        opt.step()
    saved = opt.state_dict()
    b = nb.tensor(a.numpy().copy(), requires_grad=True)
    resumed = cls([b], lr=123.0)  # hyper-parameters come back from the state_dict too
    resumed.load_state_dict(saved)
    for k in range(3, 7):
        for p, o in ((a, opt), (b, resumed)):
            p.grad = nb.tensor(_fake_grad(p.numpy(), k))
            o.step()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    # the saved state is a copy, not a view of live buffers
    assert saved["param_groups"][0]["lr"] == kwargs["lr"]


def test_param_groups_override_defaults():
    a = nb.tensor([1.0], requires_grad=True)
    b = nb.tensor([1.0], requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = nb.tensor([1.0]), nb.tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.item(), b.item()], [0.9, 0.5])


def test_bad_arguments_raise():
    w = nb.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="lr must be > 0"):
        SGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match="must be Tensors"):
        GD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        SGD([{"params": [w], "momentun": 0.9}], lr=0.1)


def test_stopping_rule_reports_which_fired():
    assert StoppingRule(step_tol=1e-3).update(step_norm=1e-4, param_norm=1.0)
    rule = StoppingRule(step_tol=1e-9, grad_tol=1e-6, loss_tol=1e-3, patience=2)
    assert not rule.update(loss=1.0, step_norm=1.0, grad_norm=1.0)
    assert not rule.update(loss=0.9995, step_norm=1.0, grad_norm=1.0)  # not enough better
    assert rule.update(loss=0.9999, step_norm=1.0, grad_norm=1.0)
    assert rule.reason == "loss_plateau"
    rule.reset()
    assert rule.reason is None and rule.update(grad_norm=1e-7) and rule.reason == "grad_tol"
    stop = EarlyStopping(patience=1)
    assert not stop.update(loss=2.0) and stop.update(loss=2.0) and stop.reason == "loss_plateau"
    with pytest.raises(ValueError, match="at least one"):
        StoppingRule()
