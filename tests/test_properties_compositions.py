"""Random compositions of 3-6 primitives: value, gradient and HVP against PyTorch, and
``check_grads`` to order 2 jointly in both inputs (hypothesis, bounded example counts).

Each step maps an array of shape (3, 4) to one of the same shape, smooth everywhere on the
values it can see and growing at most linearly (no step squares an unbounded value), so that
any chain of steps is differentiable twice and finite differences stay accurate along it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet import ops
from nablanet.checks import check_grads

SHAPE = (3, 4)
_W = np.random.default_rng(7).standard_normal((4, 4)) / 2

#: name -> (nablanet step, torch step): x, y -> same-shape array (y is the second input)
STEPS = {
    "tanh": (lambda x, y: nb.tanh(x), lambda t, x, y: t.tanh(x)),
    "sigmoid": (lambda x, y: ops.sigmoid(x), lambda t, x, y: t.sigmoid(x)),
    "softplus": (lambda x, y: ops.softplus(x),
                 lambda t, x, y: t.nn.functional.softplus(x, threshold=1e9)),
    "log_sigmoid": (lambda x, y: ops.log_sigmoid(x),
                    lambda t, x, y: t.nn.functional.logsigmoid(x)),
    "times_y": (lambda x, y: x * y, lambda t, x, y: x * y),
    "plus_y": (lambda x, y: x + y, lambda t, x, y: x + y),
    "minus_y_row": (lambda x, y: x - y[:1], lambda t, x, y: x - y[:1]),
    "bounded_square": (lambda x, y: x * x / (1 + x * x), lambda t, x, y: x * x / (1 + x * x)),
    "log1p_square": (lambda x, y: nb.log1p(x ** 2), lambda t, x, y: t.log1p(x ** 2)),
    "exp_tanh": (lambda x, y: nb.exp(nb.tanh(x)), lambda t, x, y: t.exp(t.tanh(x))),
    "softmax": (lambda x, y: ops.softmax(x, axis=-1), lambda t, x, y: t.softmax(x, -1)),
    "log_softmax_cols": (lambda x, y: ops.log_softmax(x, axis=0),
                         lambda t, x, y: t.log_softmax(x, 0)),
    "centre_lse": (lambda x, y: x - nb.logsumexp(x, axis=1, keepdims=True),
                   lambda t, x, y: x - t.logsumexp(x, 1, keepdim=True)),
    "matmul_w": (lambda x, y: x @ _W, lambda t, x, y: x @ t.tensor(_W)),
    "row_mean": (lambda x, y: x - nb.mean(x, axis=0), lambda t, x, y: x - x.mean(0)),
    "sum_broadcast": (lambda x, y: x * nb.sum(y, axis=1, keepdims=True) / 4,
                      lambda t, x, y: x * y.sum(1, keepdim=True) / 4),
    "transpose_twice": (lambda x, y: nb.transpose(nb.transpose(x) * 0.5),
                        lambda t, x, y: (x.T * 0.5).T),
    "sqrt_soft": (lambda x, y: nb.sqrt(x * x + 1), lambda t, x, y: t.sqrt(x * x + 1)),
}

chains = st.lists(st.sampled_from(sorted(STEPS)), min_size=3, max_size=6)
seeds = st.integers(0, 2**16)


def _inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(SHAPE), rng.standard_normal(SHAPE)


def _nablanet(chain):
    def fun(x, y):
        for name in chain:
            x = STEPS[name][0](x, y)
        return nb.sum(x * x)

    return fun


def _torch(torch, chain):
    def fun(x, y):
        for name in chain:
            x = STEPS[name][1](torch, x, y)
        return (x * x).sum()

    return fun


@settings(max_examples=25, deadline=None)
@given(chain=chains, seed=seeds)
def test_random_compositions_match_torch(chain, seed):
    torch = pytest.importorskip("torch")
    x, y = _inputs(seed)
    v = np.random.default_rng(seed + 1).standard_normal(SHAPE)
    fun, torch_fun = _nablanet(chain), _torch(torch, chain)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y, requires_grad=True)
    value = torch_fun(tx, ty)
    gx, gy = torch.autograd.grad(value, (tx, ty), create_graph=True, allow_unused=True)
    gy = torch.zeros(SHAPE, dtype=torch.float64) if gy is None else gy
    hvp, = torch.autograd.grad((gx * torch.tensor(v)).sum(), tx, allow_unused=True)
    hvp = np.zeros(SHAPE) if hvp is None else hvp.detach().numpy()

    assert float(fun(x, y)) == pytest.approx(value.item(), rel=1e-10, abs=1e-12)
    ours_x, ours_y = nb.grad(fun, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(ours_x, gx.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours_y, gy.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nb.hvp(fun)(x, y, v), hvp, rtol=1e-8, atol=1e-11)


@settings(max_examples=15, deadline=None)
@given(chain=chains, seed=seeds)
def test_random_compositions_pass_the_joint_second_order_check(chain, seed):
    x, y = _inputs(seed)
    check_grads(_nablanet(chain), [x, y], order=2, seed=seed, rtol=1e-4, atol=1e-6)
