"""Forward + backward of the issue-17 layers against PyTorch (CPU, 1 thread), same run.

    python bench/nn_layers.py [--rows 256] [--width 512] [--repeats 30]

Prints medians and the nablanet/torch ratio for each layer on a float64 batch; Tanh and
ReLU (older layers) are the reference.  Also times LayerNorm's fused primitive against
the same normalisation written as a composition of primitives.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def median_ms(fun, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fun()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def layers(nn, torch, width):
    return [
        ("LayerNorm", nn.LayerNorm(width), torch.nn.LayerNorm(width).double()),
        ("GELU", nn.GELU(), torch.nn.GELU()),
        ("GELU tanh", nn.GELU("tanh"), torch.nn.GELU("tanh")),
        ("ELU", nn.ELU(), torch.nn.ELU()),
        ("SiLU", nn.SiLU(), torch.nn.SiLU()),
        ("Tanh (reference)", nn.Tanh(), torch.nn.Tanh()),
        ("ReLU (reference)", nn.ReLU(), torch.nn.ReLU()),
    ]


def composed_layer_norm(nb, x, weight, bias):
    centred = x - nb.mean(x, axis=-1, keepdims=True)
    variance = nb.mean(centred * centred, axis=-1, keepdims=True)
    return centred / nb.sqrt(variance + 1e-5) * weight + bias


def main():
    import torch

    import nablanet as nb
    from nablanet import nn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((args.rows, args.width))
    for name, ours, theirs in layers(nn, torch, args.width):
        def run_ours(layer=ours):
            layer(nb.tensor(x, requires_grad=True)).sum().backward()

        def run_torch(layer=theirs):
            layer(torch.tensor(x, requires_grad=True)).sum().backward()

        a, b = median_ms(run_ours, args.repeats), median_ms(run_torch, args.repeats)
        print(f"{name:18s} nablanet {a:7.2f} ms  torch {b:7.2f} ms  ratio {a / b:5.2f}")
    weight = nb.tensor(np.ones(args.width), requires_grad=True)
    bias = nb.tensor(np.zeros(args.width), requires_grad=True)

    def fused():
        xt = nb.tensor(x, requires_grad=True)
        nb.ops.layer_norm(xt, args.width, weight, bias).sum().backward()

    def composed():
        xt = nb.tensor(x, requires_grad=True)
        composed_layer_norm(nb, xt, weight, bias).sum().backward()

    a, b = median_ms(fused, args.repeats), median_ms(composed, args.repeats)
    print(f"LayerNorm fused {a:.2f} ms vs composed {b:.2f} ms: ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
