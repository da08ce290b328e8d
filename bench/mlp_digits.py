"""One training epoch on digits: nablanet MLPClassifier vs scikit-learn vs PyTorch eager.

The network is the notes' one (64-256-10, BatchNorm, LeakyReLU(0.1), Dropout(0.2),
Adam 1e-3, float32, batch 128) for nablanet and PyTorch.  scikit-learn's
MLPClassifier has no batch norm or dropout, so it runs its closest network (same
hidden size and batch size, Adam, float64 as it always trains), and nablanet is
also timed on that plain network (ReLU, no BN, no dropout) for a like-for-like
ratio.  Epochs are interleaved round-robin so that load on the machine hits every
contender alike; figures are medians.

    python bench/mlp_digits.py [--repeats 15] [--threads N]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _timing import save


def digits_train():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X / 16.0, y, test_size=0.25, random_state=0,
                                              stratify=y)
    return X_train, y_train


def nablanet_epoch(X, y, **params):
    from nablanet.models import MLPClassifier

    model = MLPClassifier(batch_size=128, random_state=0, **params)
    model.partial_fit(X, y)  # builds the network (and warms up)
    return lambda: model.partial_fit(X, y)


def sklearn_epoch(X, y):
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(256,), batch_size=128, solver="adam",
                          random_state=0)
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X, y, classes=classes)
    return lambda: model.partial_fit(X, y)


def torch_epoch(X, y):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(X.shape[1], 256), torch.nn.BatchNorm1d(256), torch.nn.LeakyReLU(0.1),
        torch.nn.Dropout(0.2), torch.nn.Linear(256, 10),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt = torch.from_numpy(X.astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        net.train()
        order = torch.randperm(len(Xt))
        for start in range(0, len(Xt), 128):
            idx = order[start:start + 128]
            loss = loss_fn(net(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    epoch()
    return epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS and torch threads (default: libraries' own)")
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        import torch

        torch.set_num_threads(args.threads)
    X, y = digits_train()
    contenders = {
        "nablanet_notes_net": nablanet_epoch(X, y),
        "torch_notes_net": torch_epoch(X, y),
        "nablanet_plain_relu": nablanet_epoch(X, y, activation="relu", batch_norm=False,
                                              dropout=0.0, dtype="float64"),
        "sklearn_plain_relu": sklearn_epoch(X, y),
    }
    times = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, epoch in contenders.items():
            start = time.perf_counter()
            epoch()
            times[name].append(time.perf_counter() - start)
    medians = {name: float(np.median(t)) for name, t in times.items()}
    ratios = {
        "nablanet_vs_torch_notes_net": medians["nablanet_notes_net"] / medians["torch_notes_net"],
        "nablanet_vs_sklearn_plain": medians["nablanet_plain_relu"] / medians["sklearn_plain_relu"],
        "nablanet_notes_net_vs_sklearn_plain":
            medians["nablanet_notes_net"] / medians["sklearn_plain_relu"],
    }
    for name, value in medians.items():
        print(f"{name:24s} {1e3 * value:8.2f} ms/epoch")
    for name, value in ratios.items():
        print(f"{name:38s} {value:6.2f}x")
    name = "mlp_digits" if not args.threads else f"mlp_digits_threads{args.threads}"
    path = save(name, {
        "samples": int(len(X)), "batch_size": 128, "hidden": 256, "repeats": args.repeats,
        "threads": args.threads, "median_seconds_per_epoch": medians, "ratios": ratios,
    })
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
