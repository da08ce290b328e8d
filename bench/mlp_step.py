"""One training step of the notes' MLP, nablanet vs PyTorch eager, in the same run.

784-256-10 with BatchNorm1d, LeakyReLU(0.1), Dropout(0.2), softmax cross-entropy;
float32, batch 128; forward + backward + an SGD step.  Prints the median time per
step of each and their ratio, and writes bench/results/mlp_step.json.

    python bench/mlp_step.py [--repeats 200]

On a shared machine, run both single-threaded (``OPENBLAS_NUM_THREADS=1
OMP_NUM_THREADS=1``): busy-waiting BLAS pools of other processes otherwise make
the figures swing by 5x from run to run.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _timing import median_seconds, save

N_IN, N_HIDDEN, N_OUT, BATCH, LR = 784, 256, 10, 128, 0.01


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, N_IN)).astype(np.float32)
    labels = rng.integers(0, N_OUT, BATCH)
    return x, labels


def nablanet_step(x, labels):
    from nablanet import nn

    net = nn.MLP(N_IN, N_HIDDEN, N_OUT, batch_norm=True, dropout=0.2,
                 generator=np.random.default_rng(0), dtype=np.float32)
    loss_fn = nn.CrossEntropyLoss()
    params = list(net.parameters())

    def step():
        for p in params:
            p.grad = None
        loss = loss_fn(net(x), labels)
        loss.backward()
        for p in params:
            p.data -= LR * p.grad.data
        return loss

    return step, net


def torch_step(x, labels):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(N_IN, N_HIDDEN), torch.nn.BatchNorm1d(N_HIDDEN),
        torch.nn.LeakyReLU(0.1), torch.nn.Dropout(0.2), torch.nn.Linear(N_HIDDEN, N_OUT),
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        return loss

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    x, labels = data()
    ours, _ = nablanet_step(x, labels)
    assert ours().dtype == np.float32
    record = {"model": "784-256-10 BN LeakyReLU(0.1) Dropout(0.2) CE", "dtype": "float32",
              "batch": BATCH, "repeats": args.repeats,
              "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
              "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    try:
        theirs = torch_step(x, labels)
    except ImportError:
        theirs = None
    # interleave short rounds so that load from other processes hits both alike
    rounds, per_round = 10, max(1, args.repeats // 10)
    ours_times, torch_times = [], []
    for _ in range(rounds):
        ours_times.append(median_seconds(ours, per_round, warmup=2))
        if theirs is not None:
            torch_times.append(median_seconds(theirs, per_round, warmup=2))
    t_ours = float(np.median(ours_times))
    record["nablanet_ms"] = t_ours * 1e3
    t_torch = float(np.median(torch_times)) if torch_times else None
    if t_torch is not None:
        record["torch_ms"] = t_torch * 1e3
        record["ratio_nablanet_over_torch"] = t_ours / t_torch
    print(f"nablanet  {t_ours * 1e3:8.3f} ms/step")
    if t_torch is not None:
        print(f"torch     {t_torch * 1e3:8.3f} ms/step")
        print(f"ratio     {t_ours / t_torch:8.2f}x")
    path = save("mlp_step", record)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
