"""Hessian of a 1,210-parameter MLP loss: nablanet vs torch.func and jax.jit (when importable).

The loss is the mean softmax cross-entropy (via log-sum-exp) of a 64-16-10 tanh
MLP on 256 samples, float64, with all parameters flattened into one vector.
Times the full Hessian (``nablanet.hessian``, eager and with ``replay=True``, vs
``torch.func.hessian`` vs ``jax.jit(jax.hessian)``) and one Hessian-vector product
(``nablanet.hvp``, eager and replayed, vs torch double backward vs ``jax.jit`` of a jvp
of the gradient).  JAX's compile time is measured apart and excluded from its medians,
and so are the replayed transforms' two recordings.  Contenders of one kind are timed in
interleaved rounds (order alternating), so a change in machine load hits all alike.

``--ablation`` also times ``nablanet.hessian`` pushing all 1,210 rows through one
backward pass (the behaviour before rows were batched by cache size), interleaved
with the default.

Run: ``python bench/hessian_mlp.py [--repeats 7] [--threads 1] [--ablation]``; writes
bench/results/hessian_mlp.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mlp import N_PARAMS, nablanet_loss, problem, torch_loss, unflatten  # noqa: E402
from _timing import save  # noqa: E402

import nablanet as nb  # noqa: E402


def _torch_case(X, Y, theta, v):
    try:
        import torch
    except ImportError:
        return None
    loss = torch_loss(X, Y)
    th = torch.from_numpy(theta)
    vt = torch.from_numpy(v)
    hess = torch.func.hessian(loss)

    def torch_hvp():
        t = th.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
        (hv,) = torch.autograd.grad(g @ vt, t)
        return hv

    return {"hessian": lambda: hess(th).numpy(), "hvp": lambda: torch_hvp().numpy()}


def _jax_case(X, Y, theta, v):
    """jit-compiled jax.hessian and jvp-of-grad, plus their compile seconds."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None, {}
    jax.config.update("jax_enable_x64", True)
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def loss(t):
        W1, b1, W2, b2 = unflatten(t)
        z = jnp.tanh(Xj @ W1 + b1) @ W2 + b2
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(z * Yj, axis=1))

    def hvp(t, u):
        return jax.jvp(jax.grad(loss), (t,), (u,))[1]

    th, vj = jnp.asarray(theta), jnp.asarray(v)
    compiled, compile_seconds = {}, {}
    for kind, fun, args in (("hessian", jax.hessian(loss), (th,)), ("hvp", hvp, (th, vj))):
        start = time.perf_counter()
        compiled[kind] = jax.jit(fun).lower(*args).compile()
        compile_seconds[kind] = time.perf_counter() - start
    return {
        "hessian": lambda: np.asarray(compiled["hessian"](th).block_until_ready()),
        "hvp": lambda: np.asarray(compiled["hvp"](th, vj).block_until_ready()),
    }, compile_seconds


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


def _one_pass_hessian(loss, theta):
    """nablanet.hessian with every row in one backward pass (no cache-sized batches)."""
    from nablanet.autodiff import transforms

    saved = transforms._CHUNK_BYTES
    transforms._CHUNK_BYTES = 2 ** 62
    try:
        return nb.hessian(loss)(theta)
    finally:
        transforms._CHUNK_BYTES = saved


def _limit_threads(threads):
    """One BLAS / torch / XLA thread pool size for every contender (before jax is imported)."""
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    if threads == 1:
        os.environ.setdefault("XLA_FLAGS", flags)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _load():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--ablation", action="store_true",
                        help="also time the Hessian with all rows in one backward pass")
    opts = parser.parse_args(argv)
    _limit_threads(opts.threads)

    X, _, Y, theta = problem(0)
    v = np.random.default_rng(1).standard_normal(N_PARAMS)
    loss = nablanet_loss(X, Y)
    replayed_hessian, replayed_hvp = nb.hessian(loss, replay=True), nb.hvp(loss, replay=True)
    for _ in range(2):  # the two recordings (excluded, like jax's compile)
        replayed_hessian(theta), replayed_hvp(theta, v)
    contenders = {"nablanet": {"hessian": lambda: nb.hessian(loss)(theta),
                               "hvp": lambda: nb.hvp(loss)(theta, v)},
                  "nablanet_replay": {"hessian": lambda: replayed_hessian(theta),
                                      "hvp": lambda: replayed_hvp(theta, v)}}
    torch_case = _torch_case(X, Y, theta, v)
    if torch_case is not None:
        contenders["torch"] = torch_case
    jax_case, jax_compile = _jax_case(X, Y, theta, v)
    if jax_case is not None:
        contenders["jax_jit"] = jax_case
    record = {"n_params": N_PARAMS, "repeats": opts.repeats, "threads": opts.threads,
              "load_before": _load(), "seconds": {}, "ratios": {}, "max_abs_diff": {},
              "jax_compile_seconds": jax_compile}

    ours = {kind: fun() for kind, fun in contenders["nablanet"].items()}
    for name, case in contenders.items():
        for kind, fun in case.items():
            if name != "nablanet":
                err = float(np.max(np.abs(ours[kind] - fun())))
                record["max_abs_diff"][f"{kind}_vs_{name}"] = err
                print(f"max |{kind} nablanet - {name}| = {err:.3g}")
    for kind in ("hessian", "hvp"):
        funs = {name: case[kind] for name, case in contenders.items()}
        medians = _interleaved_medians(funs, opts.repeats)
        line = f"{kind:8s}"
        for name, seconds in medians.items():
            record["seconds"][f"{name}_{kind}"] = seconds
            line += f" | {name} {1e3 * seconds:8.2f} ms"
        print(line)
        for ours in ("nablanet", "nablanet_replay"):
            ratios = [f"{ours}/{name} {medians[ours] / seconds:.2f}"
                      for name, seconds in medians.items() if not name.startswith("nablanet")]
            for name, seconds in medians.items():
                if name != ours and not (ours == "nablanet_replay" and name == "nablanet"):
                    record["ratios"][f"{kind}_{ours}_over_{name}"] = medians[ours] / seconds
            if ratios:
                print(f"{'':8s}   time ratios: " + ", ".join(ratios))
    if opts.ablation:
        medians = _interleaved_medians({
            "batched": contenders["nablanet"]["hessian"],
            "one_pass": lambda: _one_pass_hessian(loss, theta)}, opts.repeats)
        record["ablation_hessian_seconds"] = medians
        print(f"ablation: hessian in cache-sized batches {1e3 * medians['batched']:.1f} ms, "
              f"all rows in one pass {1e3 * medians['one_pass']:.1f} ms "
              f"(ratio {medians['batched'] / medians['one_pass']:.2f})")
    for kind, seconds in jax_compile.items():
        print(f"jax.jit compile ({kind}): {1e3 * seconds:.0f} ms (excluded above)")
    record["load_after"] = _load()
    print(f"load average before {record['load_before']}, after {record['load_after']}; "
          f"{opts.threads} thread(s)")
    print("wrote", save("hessian_mlp", record))
    return record


if __name__ == "__main__":
    main()
