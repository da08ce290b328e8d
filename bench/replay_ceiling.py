"""The ceiling of a replayed training step: nablanet's own kernels in a flat sequence.

Benchmark 1's gap to the hand-written NumPy loop (``train_throughput.py``) could come
from nablanet's kernels or from its engine (tensors, the recorded graph, the backward
heap, module calls, the optimiser's loops).  This script separates the two: it calls the
very functions an eager step runs (each primitive's forward impl, its first-order
backward rule, the batch-norm statistics, the dropout draw, ``SGD._update``) straight
from one Python function, with no Tensor, graph or module in between, the step a
record-once-and-replay engine would run.  It first checks that this flat step is
bit-identical to the eager one (losses, parameters, running statistics over five steps),
then times it, and ``optim.TrainStep`` (the replay engine built since, which generates
such a step from a recording), against the hand-written loop in interleaved rounds.

It reaches into private functions on purpose and fails loudly when they change.

    python bench/replay_ceiling.py [--batches 32 128] [--rounds 21] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _numpy_mlp import NumpyMLP
from _timing import save
from train_throughput import (
    LR,
    MOMENTUM,
    N_HIDDEN,
    N_IN,
    N_OUT,
    P_DROP,
    SLOPE,
    _limit_threads,
    batches,
    data,
    steps_per_round,
)

from nablanet import nn
from nablanet.ops.activations import _leaky_relu_impl, _leaky_relu_inplace
from nablanet.ops.arithmetic import _multiply_inplace
from nablanet.ops.dense import _linear_first_order, _linear_impl
from nablanet.ops.losses import _ce_index_first_order, _ce_index_impl, _plain_labels
from nablanet.ops.normalization import (
    _batch_norm_impl,
    _batch_norm_inplace,
    _update_running,
    batch_statistics,
)
from nablanet.optim import SGD, TrainStep

ALL, NOT_INPUT = [True, True, True], [False, True, True]


def eager_trainer(seed):
    """The notes' network, its loss and optimiser, as ``train_throughput.py`` builds them."""
    net = nn.MLP(N_IN, N_HIDDEN, N_OUT, negative_slope=SLOPE, batch_norm=True, dropout=P_DROP,
                 generator=np.random.default_rng(seed), dtype=np.float32)
    return net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=LR, momentum=MOMENTUM)


def flat_step(net, opt):
    """One training step of ``net`` as a flat sequence of nablanet's kernels."""
    generator = next(m for m in net.modules() if isinstance(m, nn.Dropout)).generator
    W1, b1, gamma, beta, W2, b2 = params = [p.data for p in net.parameters()]
    bn = next(m for m in net.modules() if isinstance(m, nn.BatchNorm1d))
    running_mean, running_var = bn.running_mean.data, bn.running_var.data
    tracked = bn.num_batches_tracked.data  # a 0-d array, counted in place
    states = [opt.state.setdefault(p, {}) for p in net.parameters()]
    group, update = opt.param_groups[0], opt._update
    one = np.array(1, np.float32)

    def step(xb, yb):
        n = len(xb)
        # forward: linear, batch norm (the statistics _batch_norm_train computes),
        # leaky ReLU, dropout, linear, cross-entropy
        z1 = _linear_impl(xb, W1, b1)
        mean, var, inv_std, xhat = batch_statistics(z1, bn.eps)
        _update_running(running_mean, running_var, mean, var, n, bn.momentum)
        tracked[...] += 1
        y = _batch_norm_impl(z1, gamma, beta, inv_std, xhat)
        a = _leaky_relu_impl(y, SLOPE)
        uniform = generator.random(a.shape, dtype=np.float32)
        mask = np.multiply(uniform >= P_DROP, np.float32(1 / (1 - P_DROP)), out=uniform)
        h = np.multiply(a, mask)
        z2 = _linear_impl(h, W2, b2)
        labels = _plain_labels(yb, z2.shape, -100)
        loss = _ce_index_impl(z2, labels, denominator=n)
        # backward: the first-order rules the engine picks, in the order it visits them
        g = _ce_index_first_order(one, loss, [True, False], z2, labels, n)[0]
        dh, dW2, db2 = _linear_first_order(g, z2, ALL, h, W2, b2)
        da = _multiply_inplace(dh, h, [True, False], a, mask)[0]
        dy = _leaky_relu_inplace(da, a, [True], y, SLOPE)[0]
        dz1, dgamma, dbeta = _batch_norm_inplace(dy, y, ALL, z1, gamma, beta, inv_std, xhat)[:3]
        _, dW1, db1 = _linear_first_order(dz1, z1, NOT_INPUT, xb, W1, b1)
        for value, grad, state in zip(params, (dW1, db1, dgamma, dbeta, dW2, db2), states,
                                      strict=True):
            update(value, grad, state, group)
        return loss

    return step


def check_identical(x, labels, batch, steps=5):
    """The flat step and the eager step, from the same state, agree bit for bit."""
    eager_net, loss_fn, eager_opt = eager_trainer(seed=7)
    flat_net, _, flat_opt = eager_trainer(seed=7)
    step = flat_step(flat_net, flat_opt)
    for i in range(steps):
        xb, yb = x[i * batch:(i + 1) * batch], labels[i * batch:(i + 1) * batch]
        flat_loss = step(xb, yb)
        eager_opt.zero_grad()
        eager_loss = loss_fn(eager_net(xb), yb)
        eager_loss.backward()
        eager_opt.step()
        if flat_loss != eager_loss.item():
            raise AssertionError(f"step {i}: loss {flat_loss} != eager {eager_loss.item()}")
    for (name, a), b in zip(eager_net.state_dict().items(), flat_net.state_dict().values(),
                            strict=True):
        if not np.array_equal(np.asarray(a), np.asarray(b)):
            raise AssertionError(f"{name} differs from the eager step's after {steps} steps")


def compare(batch, rounds):
    x, labels = data()
    check_identical(x, labels, batch)
    net, _, opt = eager_trainer(seed=0)
    replayed = TrainStep(*eager_trainer(seed=0))
    contenders = {
        "flat": (flat_step(net, opt), batches(x, labels, batch)),
        "trainstep": (replayed, batches(x, labels, batch)),
        "numpy": (NumpyMLP(N_IN, N_HIDDEN, N_OUT, np.random.default_rng(0), p=P_DROP,
                           slope=SLOPE, lr=LR, momentum=MOMENTUM).step,
                  batches(x, labels, batch)),
    }
    k = steps_per_round(batch)

    def block(name):
        step, feed = contenders[name]
        start = time.perf_counter()
        for _ in range(k):
            step(*next(feed))
        return (time.perf_counter() - start) / k

    for name in contenders:
        block(name)
    times = {name: [] for name in contenders}
    for r in range(rounds):
        for name in (list(contenders) if r % 2 == 0 else reversed(list(contenders))):
            times[name].append(block(name))
    result = {"batch": batch, "rounds": rounds, "steps_per_round": k,
              "replayed_steps": replayed.replayed_steps}
    for name in contenders:
        result[f"{name}_ms"] = statistics.median(times[name]) * 1e3
    for name in ("flat", "trainstep"):
        ratios = [b / a for a, b in zip(times[name], times["numpy"], strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        result[f"throughput_{name}_over_numpy"] = statistics.median(ratios)
        result[f"{name}_quartiles"] = [low, high]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    _limit_threads(args.threads, torch=False)
    record = {"threads": args.threads, "results": []}
    for batch in args.batches:
        res = compare(batch, args.rounds)
        record["results"].append(res)
        print(f"batch {batch:5d}: hand-written {res['numpy_ms']:.3f} ms; bit-identical to "
              "the eager step")
        for name in ("flat", "trainstep"):
            low, high = res[f"{name}_quartiles"]
            print(f"             {name:9s} {res[f'{name}_ms']:.3f} ms, throughput / hand-written "
                  f"{res[f'throughput_{name}_over_numpy']:.3f} (quartiles {low:.3f}-{high:.3f})")
    print(f"wrote {save('replay_ceiling', record)}")


if __name__ == "__main__":
    main()
