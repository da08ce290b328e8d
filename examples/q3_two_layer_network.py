"""Question 3: softmax, cross-entropy and the notes' two-layer network.

The notes derive the softmax Jacobian yhat_k (delta_ik - yhat_i), dL/dz2 = yhat - y
and, through dropout (mask M, p = 0.2) and the leaky ReLU (slope 0.1),

    dL/dW1 = x^T [((yhat - y) W2^T) * M * lrelu'(z1)]       (row convention, claim C3).

This script compares each with nablanet's engine on digits, for the notes' bare
0/1 mask and for the library's inverted dropout (mask / (1 - p)), then trains
the same network (``nn.MLP``) with SGD.  Figure: every entry of dL/dW1 by the
formula against the engine (left), and the training curve (right).

Run: python examples/q3_two_layer_network.py [--quick] [--out DIR]
"""

import numpy as np
from _common import compare, heading, parse_args, pyplot, relative_error, report, save
from sklearn.datasets import load_digits

import nablanet as nb
from nablanet import nn
from nablanet.data import iterate_minibatches, train_test_split
from nablanet.nn import functional as F
from nablanet.optim import SGD

P_DROP, SLOPE = 0.2, 0.1


def check_softmax(rng):
    heading("softmax and cross-entropy (K = 10)")
    z = rng.standard_normal(10)
    p = np.asarray(F.softmax(z, dim=-1))
    jac = nb.jacobian(lambda v: F.softmax(v, dim=-1))(z)
    compare("Jacobian yhat_k (delta_ik - yhat_i) vs engine, rel. error", 0.0,
            relative_error(jac, np.diag(p) - np.outer(p, p)))
    y = np.eye(10)[3]
    engine = nb.grad(lambda zs: F.cross_entropy(zs[None, :], np.array([3]), reduction="sum"))(z)
    compare("dL/dz2 = yhat - y (class 3) vs engine, rel. error", 0.0, relative_error(engine, p - y))
    as_written = nb.grad(lambda zs: nb.sum(y * F.log_softmax(zs, dim=-1)))(z)
    compare("notes' L = sum y log yhat (minus dropped): grad = y - yhat", 0.0,
            relative_error(as_written, y - p))
    print("  -> the loss is L = -sum y log yhat; with the minus, dL/dz2 = yhat - y (C3)")


def network_gradients(x, labels, rng):
    """dL/dW1 by the notes' formula and by the engine, for the bare and the inverted mask."""
    W1, b1 = 0.3 * rng.standard_normal((64, 16)), 0.1 * rng.standard_normal(16)
    W2, b2 = 0.3 * rng.standard_normal((16, 10)), 0.1 * rng.standard_normal(10)
    M = (rng.random((len(x), 16)) >= P_DROP).astype(float)
    Y = np.eye(10)[labels]
    z1 = x @ W1 + b1
    lrelu_prime = np.where(z1 > 0, 1.0, SLOPE)
    pairs = {}
    for inverted in (False, True):

        def loss(W, inverted=inverted):
            a1 = F.leaky_relu(x @ W + b1, SLOPE)
            ahat = F.dropout(a1, P_DROP, training=True, inverted=inverted, mask=M)
            return F.cross_entropy(ahat @ W2 + b2, labels, reduction="sum")

        M_used = M / (1 - P_DROP) if inverted else M
        yhat = np.asarray(F.softmax(np.where(z1 > 0, z1, SLOPE * z1) * M_used @ W2 + b2, dim=-1))
        formula = x.T @ (((yhat - Y) @ W2.T) * M_used * lrelu_prime)
        pairs["inverted" if inverted else "bare"] = (formula, nb.grad(loss)(W1))
    return pairs


def check_network(X, y, rng):
    heading("dL/dW1 of the notes' network on 32 digits (64 -> 16 -> 10)")
    pairs = network_gradients(X[:32], y[:32], rng)
    for name, (formula, engine) in pairs.items():
        label = "bare 0/1 mask M (notes)" if name == "bare" else "inverted dropout M / (1 - p)"
        compare(f"dL/dW1 formula vs engine, {label}", 0.0, relative_error(engine, formula))
    return pairs["bare"]


def train(X, y, quick, rng):
    heading("training nn.MLP(64, 32, 10): leaky ReLU 0.1, dropout 0.2, SGD")
    X_train, X_test, y_train, y_test = train_test_split(X, y, 0.25, rng)
    net = nn.MLP(64, 32, 10, negative_slope=SLOPE, dropout=P_DROP, generator=rng)
    loss_fn = nn.CrossEntropyLoss()
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9)
    epochs = 8 if quick else 40
    curve = []
    for _ in range(epochs):
        net.train()
        total = 0.0
        for idx in iterate_minibatches(len(X_train), 32, rng):
            opt.zero_grad()
            loss = loss_fn(net(X_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total += float(loss.item()) * len(idx)
        net.eval()
        with nb.no_grad():
            accuracy = float(np.mean(np.argmax(np.asarray(net(X_test).data), 1) == y_test))
        curve.append((total / len(X_train), accuracy))
    report(f"after {epochs} epochs: training loss", curve[-1][0])
    report(f"after {epochs} epochs: test accuracy", curve[-1][1])
    return np.array(curve)


def plot(out, formula, engine, curve):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(formula.ravel(), engine.ravel(), ".", ms=3)
    lim = np.abs(formula).max() * 1.05
    left.plot([-lim, lim], [-lim, lim], "k-", lw=0.5)
    left.set(xlabel="dL/dW1 by the notes' formula", ylabel="dL/dW1 by nablanet's engine",
             title="Each of the 64 x 16 entries (bare mask)")
    epochs = np.arange(1, len(curve) + 1)
    right.plot(epochs, curve[:, 0], "o-", label="training loss (mean CE)")
    right.plot(epochs, curve[:, 1], "s-", label="test accuracy")
    right.set(xlabel="epoch", title="The notes' network on digits")
    right.legend()
    return save(fig, out, "q3_two_layer_network.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    rng = np.random.default_rng(0)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    check_softmax(rng)
    formula, engine = check_network(X, y, rng)
    curve = train(X, y, args.quick, rng)
    plot(args.out, formula, engine, curve)


if __name__ == "__main__":
    main()
