"""Per-op overhead of a first-order forward + backward on small arrays, vs PyTorch eager.

A chain of 50 elementwise operations (multiply, add, tanh, exp, ...) on a (10, 10)
float64 array, summed and backpropagated with ``.backward()``; the time per op
is the median time of one forward+backward divided by the number of ops.

Run: ``python bench/op_overhead.py [--repeats 200]``; writes bench/results/op_overhead.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_seconds, save  # noqa: E402

import nablanet as nb  # noqa: E402

N_ROUNDS = 10  # each round is 5 ops
N_OPS = 5 * N_ROUNDS + 1  # plus the final sum


def chain(x, c, tanh, exp):
    """Five elementwise ops per round; the same code runs on nablanet and torch tensors."""
    for _ in range(N_ROUNDS):
        x = tanh(x * c + 0.5)
        x = exp(-x) - c
    return x.sum()


def _nablanet_step(data, c):
    def step():
        x = nb.tensor(data, requires_grad=True)
        chain(x, c, nb.tanh, nb.exp).backward()
        return x.grad

    return step


def _torch_step(data, c):
    import torch

    t_data, t_c = torch.from_numpy(data), torch.from_numpy(c)

    def step():
        x = t_data.clone().requires_grad_(True)
        chain(x, t_c, torch.tanh, torch.exp).backward()
        return x.grad

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--shape", type=int, nargs=2, default=(10, 10))
    opts = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    data = rng.standard_normal(opts.shape)
    c = rng.uniform(0.5, 1.0, opts.shape)
    record = {"n_ops": N_OPS, "shape": list(opts.shape), "repeats": opts.repeats}

    t_ours = median_seconds(_nablanet_step(data, c), opts.repeats, warmup=20)
    record["us_per_op"] = {"nablanet": 1e6 * t_ours / N_OPS}
    line = f"forward+backward, {N_OPS} ops on {tuple(opts.shape)}: "
    line += f"nablanet {1e6 * t_ours / N_OPS:.2f} us/op"
    try:
        import torch  # noqa: F401

        ours = _nablanet_step(data, c)()
        theirs = _torch_step(data, c)().numpy()
        record["max_abs_diff_vs_torch"] = float(np.max(np.abs(ours.numpy() - theirs)))
        t_torch = median_seconds(_torch_step(data, c), opts.repeats, warmup=20)
        record["us_per_op"]["torch"] = 1e6 * t_torch / N_OPS
        record["ratio_nablanet_over_torch"] = t_ours / t_torch
        line += f" | torch {1e6 * t_torch / N_OPS:.2f} us/op | ratio {t_ours / t_torch:.2f}"
    except ImportError:
        pass
    print(line)
    print("wrote", save("op_overhead", record))
    return record


if __name__ == "__main__":
    main()
