"""Never stale: a change of live state after recording never replays the old program.

Each test drives a :class:`~nablanet.optim.TrainStep` and its eager twin (same seeds,
the plain ``zero_grad / loss.backward() / step`` loop), changes one piece of state after
the step has started replaying, and requires bit-identical parameters afterwards.
"""

import numpy as np

import nablanet as nb
from nablanet import nn, optim
from nablanet.ops.losses import cross_entropy, mse_loss


def _params(net):
    return list(net.parameters())


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def build(seed=0, dropout=0.0):
    rng = np.random.default_rng(seed)
    return nn.MLP(6, 8, 3, dropout=dropout, generator=rng)


def batch(seed, rows=10):
    rng = np.random.default_rng(100 + seed)
    return rng.standard_normal((rows, 6)), rng.integers(0, 3, rows)


class Pair:
    """A TrainStep and its eager twin, changed alike by ``change(fn)``."""

    def __init__(self, loss=cross_entropy, dropout=0.0, lr=0.1):
        self.nets = [build(dropout=dropout), build(dropout=dropout)]
        self.opts = [optim.SGD(n.parameters(), lr=lr, momentum=0.9) for n in self.nets]
        self.loss = [loss, loss]
        self.step = optim.TrainStep(self.nets[0], loss, self.opts[0])

    def run(self, seed):
        x, y = batch(seed)
        x = x.astype(_params(self.nets[1])[0].data.dtype)
        got = self.step(x, y)
        net, opt, loss = self.nets[1], self.opts[1], self.loss[1]
        opt.zero_grad()
        want = loss(net(nb.tensor(x)), y)
        want.backward()
        opt.step()
        assert same_bits(got.data, want.data)
        for (name, a), (_, b) in zip(self.nets[0].state_dict().items(),
                                     self.nets[1].state_dict().items(), strict=True):
            assert same_bits(a, b), name

    def warm(self):
        for seed in range(4):
            self.run(seed)
        assert self.step.replayed_steps >= 1


def test_requires_grad_switched_off_then_on():
    pair = Pair()
    pair.warm()
    for net in pair.nets:
        _params(net)[0].requires_grad = False
    for seed in range(4, 8):
        pair.run(seed)
    for net in pair.nets:
        _params(net)[0].requires_grad = True
    for seed in range(8, 12):
        pair.run(seed)


def test_requires_grad_off_from_the_start_then_on():
    pair = Pair()
    for net in pair.nets:
        _params(net)[-1].requires_grad = False
    pair.step = optim.TrainStep(pair.nets[0], cross_entropy, pair.opts[0])
    pair.warm()
    for net in pair.nets:
        _params(net)[-1].requires_grad = True
    for seed in range(4, 8):
        pair.run(seed)


def mse_onehot(out, y):
    return mse_loss(out, nb.tensor(np.eye(3)[y]))


def test_loss_fn_replaced():
    pair = Pair()
    pair.warm()
    replayed = pair.step.replayed_steps
    pair.step.loss_fn = pair.loss[1] = nn.CrossEntropyLoss(reduction="sum")
    for seed in range(4, 8):
        pair.run(seed)
    assert pair.step.replayed_steps > replayed  # a new program, not eager for ever


def test_model_replaced():
    pair = Pair()
    pair.warm()
    new = [build(seed=7), build(seed=7)]
    pair.nets = new
    pair.opts = [optim.SGD(n.parameters(), lr=0.05) for n in new]
    pair.step.model, pair.step.optimizer = new[0], pair.opts[0]
    for seed in range(4, 8):
        pair.run(seed)


def test_lr_changed_between_steps_is_used():
    pair = Pair()
    pair.warm()
    for lr in (0.5, 0.0, 1e-3):
        for opt in pair.opts:
            opt.param_groups[0]["lr"] = lr
        pair.run(int(lr * 1000) + 20)


def test_training_flag_switched():
    pair = Pair(dropout=0.5)
    pair.warm()
    for net in pair.nets:
        net.eval()
    for seed in range(4, 8):
        pair.run(seed)
    for net in pair.nets:
        net.train()
    for seed in range(8, 12):
        pair.run(seed)


def test_parameter_dtype_and_shape_replaced():
    pair = Pair()
    pair.warm()
    for net in pair.nets:
        for p in net.parameters():
            p.data = p.data.astype(np.float32)
    for seed in range(4, 8):
        pair.run(seed)


# -- the replay=True transforms -------------------------------------------------------------
def _dropout_net(seed=0):
    return nn.MLP(3, 5, 1, dropout=0.5, generator=np.random.default_rng(seed))


def test_transform_sees_a_module_switched_to_eval():
    net = _dropout_net()

    def f(x):
        return net(x.reshape(2, 3)).sum() ** 2

    replayed = nb.hessian(f, replay=True)
    x = np.random.default_rng(1).standard_normal(6)
    for _ in range(3):
        replayed(x)
    net.eval()
    assert same_bits(replayed(x), nb.hessian(f)(x))


GLOBAL_NET = _dropout_net(0).eval()


def global_loss(x):
    return (GLOBAL_NET(x.reshape(2, 3)) ** 2).sum()


def test_transform_sees_a_global_module_rebound():
    global GLOBAL_NET
    replayed = nb.hessian(global_loss, replay=True)
    x = np.random.default_rng(2).standard_normal(6)
    for _ in range(3):
        replayed(x)
    old = GLOBAL_NET
    try:
        GLOBAL_NET = _dropout_net(5).eval()
        assert same_bits(replayed(x), nb.hessian(global_loss)(x))
    finally:
        GLOBAL_NET = old


def test_transform_sees_a_captured_tensor_rebound():
    c = nb.tensor(np.ones(3))

    def g(x):
        return ((x * c).sum()) ** 2

    replayed = nb.hessian(g, replay=True)
    x = np.array([0.5, -1.0, 2.0])
    for _ in range(3):
        replayed(x)
    c.data = np.array([2.0, -3.0, 0.5])
    assert same_bits(replayed(x), nb.hessian(g)(x))


def test_transform_sees_a_parameter_reshaped():
    w = nb.tensor(np.ones(3), requires_grad=True)

    def g(x):
        return ((x * w).sum()) ** 2

    replayed = nb.hessian(g, replay=True)
    x = np.array([0.5, -1.0, 2.0])
    for _ in range(3):
        replayed(x)
    w.data = np.ones((2, 3))  # broadcasts: the recorded backward would not sum it
    assert same_bits(replayed(x), nb.hessian(g)(x))


def test_transform_module_argument_in_eval():
    net = _dropout_net(3)

    def loss(x, m):
        return (m(x.reshape(2, 3)) ** 2).sum()

    replayed = nb.value_and_grad(loss, replay=True)
    x = np.random.default_rng(4).standard_normal(6)
    for _ in range(3):
        replayed(x, net)
    net.eval()
    got, want = replayed(x, net), nb.value_and_grad(loss)(x, net)
    assert same_bits(got[0], want[0]) and same_bits(got[1], want[1])
