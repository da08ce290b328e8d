"""Gradient and Hessian-vector product through slogdet, solve, cholesky and eigh, vs PyTorch.

For each op and n in (50, 200), in float64 on the same matrices: the gradient of a
scalar loss (``nb.grad`` vs ``loss.backward()``) and the HVP (``nb.hvp``, two
backward passes, vs PyTorch's double backward ``autograd.grad(create_graph=True)``).
Both are timed interleaved in the same run; the figure is the median and the ratio
nablanet / torch (below 1: nablanet faster).  The values are checked to agree first.

Both libraries run on one BLAS thread by default (``--threads``): on a shared,
oversubscribed machine a multi-threaded OpenBLAS spins against other jobs and a
200 x 200 Cholesky went from 0.3 ms to 590 ms, which measures the load, not the code.

    python bench/linalg_grads.py [--repeats 15] [--sizes 50 200] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if __name__ == "__main__":  # BLAS threads are fixed when NumPy loads
    _threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "1"
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = _threads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _timing import save  # noqa: E402

import nablanet as nb  # noqa: E402

torch.set_default_dtype(torch.float64)


def _problems(n, rng):
    x = rng.standard_normal((n, n))
    spd = x @ x.T / n + np.eye(n)
    general = rng.standard_normal((n, n)) / np.sqrt(n) + 2 * np.eye(n)
    b = rng.standard_normal(n)
    weights = rng.standard_normal((n, n))
    return {
        # log |det A|
        "slogdet": (general, lambda a: nb.linalg.slogdet(a)[1],
                    lambda a: torch.linalg.slogdet(a)[1]),
        # ||A^-1 b||^2
        "solve": (general, lambda a: nb.sum(nb.linalg.solve(a, b) ** 2),
                  lambda a: (torch.linalg.solve(a, torch.tensor(b)) ** 2).sum()),
        # sum(W o L), L = chol(A) (the input symmetrised, so both read the same function)
        "cholesky": (spd, lambda a: nb.sum(nb.linalg.cholesky((a + a.T) * 0.5) * weights),
                     lambda a: (torch.linalg.cholesky((a + a.T) * 0.5)
                                * torch.tensor(weights)).sum()),
        # sum(w^2) + sum(W o V o V): eigenvalues and (sign-free) eigenvectors
        "eigh": (spd, lambda a: _eigh_loss_nb((a + a.T) * 0.5, weights),
                 lambda a: _eigh_loss_torch((a + a.T) * 0.5, torch.tensor(weights))),
    }


def _eigh_loss_nb(a, weights):
    w, v = nb.linalg.eigh(a)
    return nb.sum(w * w) + nb.sum(weights * v * v)


def _eigh_loss_torch(a, weights):
    w, v = torch.linalg.eigh(a)
    return (w * w).sum() + (weights * v * v).sum()


def _torch_grad(loss, a):
    t = torch.tensor(a, requires_grad=True)
    loss(t).backward()
    return t.grad


def _torch_hvp(loss, a, v):
    t = torch.tensor(a, requires_grad=True)
    (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
    (hv,) = torch.autograd.grad(g, t, grad_outputs=torch.tensor(v))
    return hv


def _interleaved(funs, repeats):
    for fun in funs.values():
        fun()
    times = {name: [] for name in funs}
    for r in range(repeats):
        for name in (list(funs) if r % 2 == 0 else list(reversed(list(funs)))):
            start = time.perf_counter()
            funs[name]()
            times[name].append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    print(f"{'op':9s} {'n':>4s} {'what':5s} {'nablanet ms':>12s} {'torch ms':>9s} {'ratio':>6s}")
    for n in args.sizes:
        for op, (a, nb_loss, torch_loss) in _problems(n, rng).items():
            v = rng.standard_normal(a.shape)
            ours_g, theirs_g = nb.grad(nb_loss)(a), _torch_grad(torch_loss, a).numpy()
            ours_h, theirs_h = nb.hvp(nb_loss)(a, v), _torch_hvp(torch_loss, a, v).numpy()
            for ours, theirs in ((ours_g, theirs_g), (ours_h, theirs_h)):
                scale = np.max(np.abs(theirs))  # eigh's HVP is as large as 1 / gap^2
                np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * scale)
            timed = _interleaved({
                "nb_grad": lambda a=a, f=nb_loss: nb.grad(f)(a),
                "torch_grad": lambda a=a, f=torch_loss: _torch_grad(f, a),
                "nb_hvp": lambda a=a, f=nb_loss, v=v: nb.hvp(f)(a, v),
                "torch_hvp": lambda a=a, f=torch_loss, v=v: _torch_hvp(f, a, v),
            }, args.repeats)
            for what in ("grad", "hvp"):
                ours = timed[f"nb_{what}"]
                theirs = timed[f"torch_{what}"]
                ratio = statistics.median([x / y for x, y in zip(ours, theirs, strict=True)])
                row = {"op": op, "n": n, "what": what,
                       "nablanet_median_s": statistics.median(ours),
                       "torch_median_s": statistics.median(theirs), "ratio": ratio}
                rows.append(row)
                print(f"{op:9s} {n:4d} {what:5s} {row['nablanet_median_s'] * 1e3:12.3f} "
                      f"{row['torch_median_s'] * 1e3:9.3f} {ratio:6.2f}")
    path = save("linalg_grads", {"repeats": args.repeats, "rows": rows,
                                 "torch_threads": torch.get_num_threads()})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
