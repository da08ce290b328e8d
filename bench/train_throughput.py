"""Training throughput of the notes' network: nablanet vs PyTorch eager vs hand-written NumPy.

784-256-10, BatchNorm1d, LeakyReLU(0.1), Dropout(0.2), mean softmax cross-entropy, SGD
with momentum 0.9 (lr 0.01), float32, synthetic MNIST-shaped data (pixels in [0, 1),
labels 0-9).  nablanet runs ``nn.MLP`` + ``nn.CrossEntropyLoss`` + ``optim.SGD`` through
``optim.TrainStep`` (recorded twice, then replayed), and "eager" the same objects in the
usual zero_grad / forward / backward / step loop;
PyTorch the same layers with ``torch.optim.SGD``; "numpy" is a hand-written
forward/backward (``bench/_numpy_mlp.py``), the zero-overhead limit of a NumPy library.

The three run in interleaved short rounds (so that load from other jobs hits all
alike); the figure per library is the median over rounds of the time per step, and
the ratios are medians of same-round ratios.  Peak memory is measured per library in
a fresh subprocess (see ``memory_child``).

    python bench/train_throughput.py [--batches 32 128 1024] [--rounds 15] [--threads 1]

``--threads`` caps the BLAS / OpenMP pools of NumPy and PyTorch alike (threadpoolctl and
``torch.set_num_threads``), in this script only: the library never changes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np
from _numpy_mlp import NumpyMLP
from _timing import save

N_IN, N_HIDDEN, N_OUT, P_DROP, SLOPE, LR, MOMENTUM = 784, 256, 10, 0.2, 0.1, 0.01, 0.9
POOL = 8192


def data(seed=0):
    """A pool of MNIST-shaped samples: float32 pixels in [0, 1) and int64 labels."""
    rng = np.random.default_rng(seed)
    x = rng.random((POOL, N_IN), dtype=np.float32)
    labels = rng.integers(0, N_OUT, POOL)
    return x, labels


def batches(x, labels, batch):
    """Cycle through contiguous batches of the pool forever."""
    starts = range(0, POOL - batch + 1, batch)
    while True:
        for s in starts:
            yield x[s:s + batch], labels[s:s + batch]


def _nablanet_parts():
    from nablanet import nn
    from nablanet.optim import SGD

    net = nn.MLP(N_IN, N_HIDDEN, N_OUT, negative_slope=SLOPE, batch_norm=True, dropout=P_DROP,
                 generator=np.random.default_rng(0), dtype=np.float32)
    return net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=LR, momentum=MOMENTUM)


def nablanet_trainer(x, labels, batch):
    """``optim.TrainStep``: the step recorded twice, then replayed (what fit() runs)."""
    from nablanet.optim import TrainStep

    step_fn = TrainStep(*_nablanet_parts())
    feed = batches(x, labels, batch)

    def step():
        return step_fn(*next(feed))

    return step


def eager_trainer(x, labels, batch):
    """nablanet's eager loop: zero_grad, forward, backward, step on every batch."""
    net, loss_fn, opt = _nablanet_parts()
    feed = batches(x, labels, batch)

    def step():
        xb, yb = next(feed)
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_trainer(x, labels, batch):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(N_IN, N_HIDDEN), torch.nn.BatchNorm1d(N_HIDDEN),
        torch.nn.LeakyReLU(SLOPE), torch.nn.Dropout(P_DROP), torch.nn.Linear(N_HIDDEN, N_OUT),
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    feed = batches(torch.from_numpy(x), torch.from_numpy(labels), batch)

    def step():
        xb, yb = next(feed)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
        return loss

    return step


def numpy_trainer(x, labels, batch):
    net = NumpyMLP(N_IN, N_HIDDEN, N_OUT, np.random.default_rng(0), p=P_DROP, slope=SLOPE,
                   lr=LR, momentum=MOMENTUM)
    feed = batches(x, labels, batch)

    def step():
        return net.step(*next(feed))

    return step


TRAINERS = {"nablanet": nablanet_trainer, "eager": eager_trainer, "torch": torch_trainer,
            "numpy": numpy_trainer}


#: Same-round throughput ratios reported: (nablanet variant, peer).
RATIOS = [("nablanet", "torch"), ("nablanet", "numpy"), ("eager", "torch"), ("eager", "numpy"),
          ("nablanet", "eager")]


def steps_per_round(batch):
    """About 40 ms of work per library per round on this machine."""
    return max(4, 4096 // batch)


def time_block(step, k):
    start = time.perf_counter()
    for _ in range(k):
        step()
    return (time.perf_counter() - start) / k


def throughput(batch, rounds, libraries):
    """Median seconds per step for each library and median same-round ratios."""
    x, labels = data()
    steps = {name: TRAINERS[name](x, labels, batch) for name in libraries}
    k = steps_per_round(batch)
    for step in steps.values():  # warm up: first-step buffers, BLAS pools, caches
        time_block(step, k)
    per_round = {name: [] for name in steps}
    for r in range(rounds):
        order = list(steps) if r % 2 == 0 else list(reversed(steps))
        for name in order:
            per_round[name].append(time_block(steps[name], k))
    result = {"batch": batch, "steps_per_round": k, "rounds": rounds}
    for name, times in per_round.items():
        t = statistics.median(times)
        result[name] = {"ms_per_step": t * 1e3, "samples_per_s": batch / t}
    for ours, peer in RATIOS:
        if ours in per_round and peer in per_round:
            ratios = [p / o for o, p in zip(per_round[ours], per_round[peer], strict=True)]
            result[f"throughput_{ours}_over_{peer}"] = statistics.median(ratios)
            # the spread of the same-round ratios: on a shared machine one run's median
            # can move by 0.1, so a figure is quoted with its quartiles
            low, _, high = statistics.quantiles(ratios, n=4)
            result[f"throughput_{ours}_over_{peer}_quartiles"] = [low, high]
    return result


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(name, batch, steps, threads):
    """Run in a fresh process: memory of the process and of training, after warm-up.

    ``process_peak_MB`` is the process's high-water mark through imports and warm-up;
    ``training_peak_MB`` the resident set's high-water mark during ``steps`` steps after
    five warm-up steps (the high-water mark is reset through /proc/self/clear_refs), and
    ``training_growth_MB`` its excess over the resident set just before those steps.
    """
    _limit_threads(threads, torch=name == "torch")
    x, labels = data()
    step = TRAINERS[name](x, labels, batch)
    for _ in range(5):  # first-step allocations (BLAS buffers, optimiser state)
        step()
    process_peak = _status_kb("VmHWM")  # imports and warm-up (ru_maxrss would include the
    # parent's resident set: Linux carries it across fork and exec)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set
    before = _status_kb("VmRSS")
    for _ in range(steps):
        step()
    peak = _status_kb("VmHWM")
    print(json.dumps({"process_peak_MB": process_peak / 1024, "training_peak_MB": peak / 1024,
                      "training_growth_MB": (peak - before) / 1024}))


def memory(batch, libraries, threads, steps=50):
    out = {}
    for name in libraries:
        cmd = [sys.executable, __file__, "--memory-child", name, str(batch), str(steps),
               "--threads", str(threads)]
        text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        out[name] = json.loads(text.strip().splitlines()[-1])
    return out


def _limit_threads(threads, torch=True):
    if threads is None:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if torch and _has_torch():
        import torch as torch_module

        torch_module.set_num_threads(threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 1024])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--libraries", nargs="+", default=list(TRAINERS))
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-child", nargs=3, metavar=("LIB", "BATCH", "STEPS"))
    args = parser.parse_args()
    if args.memory_child:
        name, batch, steps = args.memory_child
        memory_child(name, int(batch), int(steps), args.threads)
        return
    _limit_threads(args.threads)
    libraries = [n for n in args.libraries if n != "torch" or _has_torch()]
    record = {"threads": args.threads, "load_before": _load(), "results": []}
    print(f"load average {record['load_before']}, threads {args.threads}")
    for batch in args.batches:
        res = throughput(batch, args.rounds, libraries)
        if not args.no_memory:
            res["memory"] = memory(batch, libraries, args.threads)
        record["results"].append(res)
        _print(res, libraries)
    record["load_after"] = _load()
    print(f"load average {record['load_after']}")
    print(f"wrote {save('train_throughput', record)}")


def _print(res, libraries):
    line = f"batch {res['batch']:5d}:"
    for name in libraries:
        line += f"  {name} {res[name]['samples_per_s']:9.0f}/s ({res[name]['ms_per_step']:.3f} ms)"
    print(line)
    for ours, peer in RATIOS:
        key = f"throughput_{ours}_over_{peer}"
        if key in res:
            low, high = res[f"{key}_quartiles"]
            print(f"             {ours} / {peer} throughput: {res[key]:.3f} "
                  f"(quartiles of the rounds {low:.3f}-{high:.3f})")
    for name, mem in res.get("memory", {}).items():
        print(f"             {name:8s} process peak {mem['process_peak_MB']:6.1f} MB, "
              f"training peak {mem['training_peak_MB']:6.1f} MB "
              f"(+{mem['training_growth_MB']:.1f} MB over its steady state)")


def _has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _load():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


if __name__ == "__main__":
    main()
