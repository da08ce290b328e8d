"""Forward mode on the 1,210-parameter MLP loss: forward-over-reverse vs reverse-over-reverse.

Times, in interleaved rounds (order alternating, so a change in machine load hits all
alike):

- one Hessian-vector product: ``nb.jvp(nb.grad(loss), (theta,), (v,))`` (forward over
  reverse, by transposing the VJP), ``nb.hvp(loss)`` (reverse over reverse) and
  ``torch.func.jvp(torch.func.grad(loss))``;
- the full Hessian: ``nb.jacfwd(nb.grad(loss))`` vs ``nb.jacrev(nb.grad(loss))`` (what
  ``nb.hessian`` computes) vs ``torch.func.hessian`` (jacfwd over jacrev);
- a tall Jacobian, where forward mode pays: ``x -> tanh(B tanh(A x))`` from R^2 to
  R^2000, ``nb.jacfwd`` vs ``nb.jacrev`` vs ``torch.func.jacfwd``.

``--overhead`` instead prints the per-call CPU time of four transforms of tiny functions
(the pytree layer's cost on the one-array path); run it with ``PYTHONPATH`` set to two
checkouts in turn to compare them (it needs only grad, value_and_grad, jacobian, hessian).

The model is bench/_mlp.py's (64-16-10 tanh MLP, softmax cross-entropy on 256 samples,
float64).  Run: ``python bench/forward_mode.py [--repeats 7] [--threads 1]``; writes
bench/results/forward_mode.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mlp import N_PARAMS, nablanet_loss, problem, torch_loss  # noqa: E402
from _timing import save  # noqa: E402

import nablanet as nb  # noqa: E402


def _torch_case(X, Y, theta, v):
    try:
        import torch
    except ImportError:
        return {}
    loss = torch_loss(X, Y)
    th, vt = torch.from_numpy(theta), torch.from_numpy(v)
    grad = torch.func.grad(loss)
    hess = torch.func.hessian(loss)
    return {"hvp": {"torch_jvp_grad": lambda: torch.func.jvp(grad, (th,), (vt,))[1].numpy()},
            "hessian": {"torch_hessian": lambda: hess(th).numpy()}}


def _tall_case():
    """f: R^2 -> R^2000 (two tangents against 2,000 cotangent rows)."""
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((2000, 2)), 0.01 * rng.standard_normal((2000, 2000))
    x = rng.standard_normal(2)

    def f(x):
        return nb.tanh(B @ nb.tanh(A @ x))

    cases = {"nb_jacfwd": lambda: nb.jacfwd(f)(x), "nb_jacrev": lambda: nb.jacrev(f)(x)}
    try:
        import torch
    except ImportError:
        return cases
    At, Bt, xt = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(x)
    jac = torch.func.jacfwd(lambda x: torch.tanh(Bt @ torch.tanh(At @ x)))
    cases["torch_jacfwd"] = lambda: jac(xt).numpy()
    return cases


def _interleaved_medians(funs, repeats):
    """Median seconds per name: one warm-up call each, then rounds in alternating order."""
    for fun in funs.values():
        fun()
    times = {name: [] for name in funs}
    for r in range(repeats):
        for name in list(funs) if r % 2 == 0 else list(reversed(funs)):
            start = time.perf_counter()
            funs[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _overhead(repeats):
    """Best per-call CPU seconds of tiny transforms (CPU time: robust to a loaded machine)."""
    import timeit

    x = np.array([0.5, -1.0, 2.0])
    cases = {"grad": nb.grad(lambda x: nb.sum(x * x)),
             "value_and_grad": nb.value_and_grad(lambda x: nb.sum(nb.tanh(x) * x)),
             "jacobian": nb.jacobian(lambda x: nb.tanh(x) * 2),
             "hessian": nb.hessian(lambda x: nb.sum(x ** 3))}
    result = {}
    for name, transform in cases.items():
        transform(x)
        times = timeit.repeat(lambda t=transform: t(x), number=300, repeat=repeats,
                              timer=time.process_time)
        result[name] = min(times) / 300
        print(f"{name:15s} {1e6 * result[name]:7.1f} us per call (CPU)")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--overhead", action="store_true",
                        help="only time tiny transforms (per-call CPU time)")
    opts = parser.parse_args(argv)
    if opts.overhead:
        return _overhead(opts.repeats)
    from threadpoolctl import threadpool_limits

    threadpool_limits(opts.threads)
    try:
        import torch

        torch.set_num_threads(opts.threads)
    except ImportError:
        pass

    X, _, Y, theta = problem(0)
    v = np.random.default_rng(1).standard_normal(N_PARAMS)
    loss = nablanet_loss(X, Y)
    gradient = nb.grad(loss)
    cases = {
        "hvp": {"nb_jvp_grad": lambda: nb.jvp(gradient, (theta,), (v,))[1],
                "nb_hvp": lambda: nb.hvp(loss)(theta, v)},
        "hessian": {"nb_jacfwd_grad": lambda: nb.jacfwd(gradient)(theta),
                    "nb_jacrev_grad": lambda: nb.jacrev(gradient)(theta)},
        "tall_jac": _tall_case(),
    }
    for kind, funs in _torch_case(X, Y, theta, v).items():  # (tall_jac adds its own)
        cases[kind].update(funs)
    record = {"n_params": N_PARAMS, "repeats": opts.repeats, "threads": opts.threads,
              "seconds": {}, "ratios": {}, "max_abs_diff": {}}
    for kind, funs in cases.items():
        reference_name = next(iter(funs))
        reference = funs[reference_name]()
        for name, fun in funs.items():
            if name != reference_name:
                err = float(np.max(np.abs(np.asarray(fun()) - reference)))
                record["max_abs_diff"][f"{name}_vs_{reference_name}"] = err
        medians = _interleaved_medians(funs, opts.repeats)
        line = f"{kind:8s}" + "".join(f" | {n} {1e3 * s:8.2f} ms" for n, s in medians.items())
        print(line)
        names = list(medians)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                ratio = medians[a] / medians[b]
                record["ratios"][f"{a}_over_{b}"] = ratio
                print(f"{'':8s}   {a}/{b} = {ratio:.2f}")
        record["seconds"].update(medians)
    print("max |differences|:", {k: f"{e:.2g}" for k, e in record["max_abs_diff"].items()})
    print("wrote", save("forward_mode", record))
    return record


if __name__ == "__main__":
    main()
