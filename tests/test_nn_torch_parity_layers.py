"""The issue-17 layers against PyTorch 2.13 in float64 (to 1e-10): the same weights
(loaded into torch from our ``state_dict``, so the key names must agree), outputs, input
and parameter gradients, defaults and reprs."""

from collections import OrderedDict

import numpy as np
import pytest

from nablanet import nn

torch = pytest.importorskip("torch")
TOL = dict(rtol=1e-10, atol=1e-10)


def _pair(ours, theirs, rng):
    """``theirs`` in float64, with our parameters (random ones for norms' 1s and 0s)."""
    theirs = theirs.double()
    for p in ours.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def _check_forward_backward(ours, theirs, x, rng):
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    up = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(up))
    from nablanet import tensor

    xn = tensor(x, requires_grad=True)
    out_n = ours(xn)
    out_n.backward(up)
    np.testing.assert_allclose(out_n.numpy(), out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), **TOL)
    grads_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads_t[name].grad.numpy(), **TOL)


LAYERS = {
    "linear-3d": (lambda: nn.Linear(4, 3), lambda: torch.nn.Linear(4, 3), (2, 5, 4)),
    "linear-1d": (lambda: nn.Linear(4, 3), lambda: torch.nn.Linear(4, 3), (4,)),
    "linear-no-bias": (lambda: nn.Linear(4, 3, bias=False),
                       lambda: torch.nn.Linear(4, 3, bias=False), (3, 2, 4)),
    "layer-norm": (lambda: nn.LayerNorm(5), lambda: torch.nn.LayerNorm(5), (3, 5)),
    "layer-norm-2d": (lambda: nn.LayerNorm((3, 4), eps=1e-3),
                      lambda: torch.nn.LayerNorm((3, 4), eps=1e-3), (2, 3, 4)),
    "layer-norm-no-bias": (lambda: nn.LayerNorm(4, bias=False),
                           lambda: torch.nn.LayerNorm(4, bias=False), (3, 4)),
    "layer-norm-no-affine": (lambda: nn.LayerNorm(4, elementwise_affine=False),
                             lambda: torch.nn.LayerNorm(4, elementwise_affine=False), (2, 3, 4)),
    "gelu": (nn.GELU, torch.nn.GELU, (4, 6)),
    "gelu-tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh"), (4, 6)),
    "elu": (nn.ELU, torch.nn.ELU, (4, 6)),
    "elu-alpha": (lambda: nn.ELU(alpha=0.4), lambda: torch.nn.ELU(alpha=0.4), (4, 6)),
    "selu": (nn.SELU, torch.nn.SELU, (4, 6)),
    "silu": (nn.SiLU, torch.nn.SiLU, (4, 6)),
    "sigmoid": (nn.Sigmoid, torch.nn.Sigmoid, (4, 6)),
    "tanh": (nn.Tanh, torch.nn.Tanh, (4, 6)),
    "softmax": (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1), (3, 4, 2)),
    "log-softmax": (lambda: nn.LogSoftmax(dim=-1), lambda: torch.nn.LogSoftmax(dim=-1), (3, 4)),
    "flatten": (nn.Flatten, torch.nn.Flatten, (2, 3, 4)),
    "flatten-range": (lambda: nn.Flatten(0, 1), lambda: torch.nn.Flatten(0, 1), (2, 3, 4)),
    "unflatten": (lambda: nn.Unflatten(1, (2, -1)), lambda: torch.nn.Unflatten(1, (2, -1)),
                  (3, 6)),
    "identity": (nn.Identity, torch.nn.Identity, (2, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_torch(name, rng):
    make_ours, make_theirs, shape = LAYERS[name]
    torch.manual_seed(0)
    ours, theirs = _pair(make_ours(), make_theirs(), rng)
    x = 2 * rng.standard_normal(shape)
    if name == "identity":
        x = x + 0.0
    _check_forward_backward(ours, theirs, x, rng)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_defaults_and_repr_match_torch(name):
    make_ours, make_theirs, _ = LAYERS[name]
    assert repr(make_ours()) == repr(make_theirs())


def test_default_constructor_reprs_match_torch():
    for ours, theirs in [(nn.Softmax(), torch.nn.Softmax()), (nn.LayerNorm(3),
                         torch.nn.LayerNorm(3)), (nn.GELU(), torch.nn.GELU()),
                         (nn.ELU(), torch.nn.ELU()), (nn.Flatten(), torch.nn.Flatten())]:
        assert repr(ours) == repr(theirs)


def test_layer_norm_initial_values_match_torch():
    ours, theirs = nn.LayerNorm((2, 3)), torch.nn.LayerNorm((2, 3))
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy())


def test_containers_state_dict_keys_match_torch():
    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.LayerNorm(2)])
            self.heads = nn.ModuleDict({"mu": nn.Linear(2, 1)})
            self.extra = nn.ParameterList([np.zeros(2)])
            self.named = nn.ParameterDict({"s": np.zeros(1)})
            self.seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.GELU())]))

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)])
            self.heads = torch.nn.ModuleDict({"mu": torch.nn.Linear(2, 1)})
            self.extra = torch.nn.ParameterList([torch.zeros(2)])
            self.named = torch.nn.ParameterDict({"s": torch.zeros(1)})
            self.seq = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 2)),
                                                        ("act", torch.nn.GELU())]))

    ours, theirs = Ours(), Theirs()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_plain_list_loses_parameters_in_torch_and_warns_here():
    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [torch.nn.Linear(2, 2)]

    assert list(Theirs().parameters()) == []  # PyTorch: silently none

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    with pytest.warns(nn.UnregisteredModuleWarning):
        assert list(Ours().parameters()) == []


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(reduction, weighted, rng):
    logp = np.log(rng.dirichlet(np.ones(4), 6))
    target = np.array([0, 3, -100, 1, 3, 2])
    weight = rng.uniform(0.5, 2.0, 4) if weighted else None
    xt = torch.tensor(logp, requires_grad=True)
    want = torch.nn.NLLLoss(weight=None if weight is None else torch.tensor(weight),
                            reduction=reduction)(xt, torch.tensor(target))
    up = rng.standard_normal(tuple(want.shape))
    want.backward(torch.tensor(up))
    from nablanet import tensor

    xn = tensor(logp, requires_grad=True)
    got = nn.NLLLoss(weight=weight, reduction=reduction)(xn, target)
    got.backward(up)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), **TOL)
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), **TOL)
    ours, theirs = nn.NLLLoss(), torch.nn.NLLLoss()  # PyTorch's defaults
    assert (ours.ignore_index, ours.reduction) == (theirs.ignore_index, theirs.reduction)


def test_nll_loss_refuses_bad_labels_and_float_targets(rng):
    logp = np.log(np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"lie in \[0, 2\]"):
        nn.NLLLoss()(logp, np.array([0, 3]))
    with pytest.raises(TypeError, match="integers"):
        nn.NLLLoss()(logp, np.array([0.0, 1.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss_matches_torch(reduction, rng):
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    xt = torch.tensor(x, requires_grad=True)
    want = torch.nn.L1Loss(reduction=reduction)(xt, torch.tensor(y))
    want.sum().backward()
    from nablanet import tensor

    xn = tensor(x, requires_grad=True)
    got = nn.L1Loss(reduction=reduction)(xn, y)
    got.sum().backward()
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), **TOL)
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), **TOL)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(padding_idx, rng):
    ours = nn.Embedding(5, 3, padding_idx=padding_idx, generator=rng)
    theirs = torch.nn.Embedding(5, 3, padding_idx=padding_idx).double()
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    if padding_idx is not None:
        np.testing.assert_array_equal(ours.weight.numpy()[padding_idx], 0.0)
    ours.weight.data[...] = rng.standard_normal((5, 3))
    theirs.load_state_dict({"weight": torch.tensor(ours.weight.numpy())})
    idx = np.array([[0, 2, 4, 2], [4, 4, 1, 3]])
    up = rng.standard_normal((2, 4, 3))
    out_t = theirs(torch.tensor(idx))
    out_t.backward(torch.tensor(up))
    out_n = ours(idx)
    out_n.backward(up)
    np.testing.assert_array_equal(out_n.numpy(), out_t.detach().numpy())
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), **TOL)


def test_embedding_refuses_bad_indices():
    table = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match=r"\[0, 3\], got \[-1\]"):
        table(np.array([0, -1]))  # NumPy would wrap it silently
    with pytest.raises(IndexError, match="got \\[4\\]"):
        table(np.array([4]))
    with pytest.raises(TypeError, match="integers"):
        table(np.array([0.0]))


def test_non_persistent_buffers_are_not_saved_as_in_torch():
    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.register_buffer("scale", np.ones(2))
            self.register_buffer("cache", np.zeros(2), persistent=False)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
            self.register_buffer("scale", torch.ones(2))
            self.register_buffer("cache", torch.zeros(2), persistent=False)

    ours = Ours()
    assert list(ours.state_dict()) == list(Theirs().state_dict())
    assert [n for n, _ in ours.named_buffers()] == ["scale", "cache"]
    ours.load_state_dict(ours.state_dict())  # strict: the transient buffer is not expected
    assert ours.float().cache.dtype == np.float32  # but it still moves with .to()


def test_linear_module_input_hessian_on_leading_axes_matches_torch(rng):
    ours = nn.Linear(4, 3, generator=rng)
    theirs = torch.nn.Linear(4, 3).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 3, 4))
    import nablanet as nb

    want = torch.autograd.functional.hessian(lambda t: (torch.tanh(theirs(t)) ** 2).sum(),
                                             torch.tensor(x))
    got = nb.hessian(lambda t: nb.sum(nb.tanh(ours(t)) ** 2))(x)
    assert got.shape == (2, 3, 4, 2, 3, 4)
    np.testing.assert_allclose(got, want.numpy(), **TOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("make_ours, make_theirs", [
    (lambda r: nn.HuberLoss(r), lambda r: torch.nn.HuberLoss(r)),
    (lambda r: nn.HuberLoss(r, delta=0.3), lambda r: torch.nn.HuberLoss(r, delta=0.3)),
    (lambda r: nn.SmoothL1Loss(reduction=r), lambda r: torch.nn.SmoothL1Loss(reduction=r)),
    (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.4),
     lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.4)),
    (lambda r: nn.SmoothL1Loss(reduction=r, beta=0.0),
     lambda r: torch.nn.SmoothL1Loss(reduction=r, beta=0.0)),
], ids=["huber", "huber-delta", "smooth-l1", "smooth-l1-beta", "smooth-l1-zero"])
def test_huber_and_smooth_l1_match_torch_to_second_order(reduction, make_ours, make_theirs, rng):
    import nablanet as nb

    x, y = 2 * rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    xt = torch.tensor(x, requires_grad=True)
    loss_t = make_theirs(reduction)(xt, torch.tensor(y)).sum()
    (gt,) = torch.autograd.grad(loss_t, xt, create_graph=True)
    (ht,) = torch.autograd.grad((gt ** 2).sum(), xt)
    ours = make_ours(reduction)
    grad = nb.grad(lambda t: nb.sum(ours(t, y)))
    np.testing.assert_allclose(float(nb.sum(ours(x, y))), loss_t.item(), **TOL)
    np.testing.assert_allclose(grad(x), gt.detach().numpy(), **TOL)
    np.testing.assert_allclose(nb.grad(lambda t: nb.sum(grad(t) ** 2))(x), ht.numpy(force=True),
                               **TOL)
