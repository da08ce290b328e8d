"""Hessian of a 1,210-parameter MLP loss: nablanet vs torch.func (and jax when importable).

The loss is the mean softmax cross-entropy (via log-sum-exp) of a 64-16-10 tanh
MLP on 256 samples, float64, with all parameters flattened into one vector.
Also times one Hessian-vector product (nablanet.hvp vs torch double backward).

Run: ``python bench/hessian_mlp.py [--repeats 5]``; writes bench/results/hessian_mlp.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _mlp import N_PARAMS, nablanet_loss, problem, torch_loss  # noqa: E402
from _timing import median_seconds, save  # noqa: E402

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


def _jax_case(X, Y, theta):
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    from _mlp import unflatten

    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def loss(t):
        W1, b1, W2, b2 = unflatten(t)
        z = jnp.tanh(Xj @ W1 + b1) @ W2 + b2
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(z * Yj, axis=1))

    hess = jax.jit(jax.hessian(loss))
    return lambda: np.asarray(hess(jnp.asarray(theta)).block_until_ready())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args(argv)

    X, _, Y, theta = problem(0)
    v = np.random.default_rng(1).standard_normal(N_PARAMS)
    loss = nablanet_loss(X, Y)
    ours = {"hessian": lambda: nb.hessian(loss)(theta), "hvp": lambda: nb.hvp(loss)(theta, v)}
    record = {"n_params": N_PARAMS, "repeats": opts.repeats, "seconds": {}, "ratios": {}}

    H = ours["hessian"]()
    torch_case = _torch_case(X, Y, theta, v)
    if torch_case is not None:
        err = float(np.max(np.abs(H - torch_case["hessian"]())))
        record["max_abs_diff_vs_torch"] = err
        print(f"max |H_nablanet - H_torch| = {err:.3g}")
    for kind in ("hessian", "hvp"):
        t_ours = median_seconds(ours[kind], opts.repeats)
        record["seconds"][f"nablanet_{kind}"] = t_ours
        line = f"{kind:8s} nablanet {1e3 * t_ours:9.2f} ms"
        if torch_case is not None:
            t_torch = median_seconds(torch_case[kind], opts.repeats)
            record["seconds"][f"torch_{kind}"] = t_torch
            record["ratios"][f"{kind}_nablanet_over_torch"] = t_ours / t_torch
            line += f" | torch {1e3 * t_torch:9.2f} ms | ratio {t_ours / t_torch:.2f}"
        print(line)
    jax_hessian = _jax_case(X, Y, theta)
    if jax_hessian is not None:
        t_jax = median_seconds(jax_hessian, opts.repeats, warmup=2)
        record["seconds"]["jax_jit_hessian"] = t_jax
        ours_hessian = record["seconds"]["nablanet_hessian"]
        record["ratios"]["hessian_nablanet_over_jax"] = ours_hessian / t_jax
        print(f"hessian  jax.jit  {1e3 * t_jax:9.2f} ms")
    print("wrote", save("hessian_mlp", record))
    return record


if __name__ == "__main__":
    main()
