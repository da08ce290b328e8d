"""A recording that reads a traced value into Python is never replayed.

``bool``, ``float``, ``item``, ``tolist``, ``numpy()`` and ``np.asarray`` of a tensor while
a step or a ``replay=True`` transform records make that recording value-dependent: the
call then runs eagerly on every call, so a branch or a mask taken at the recorded inputs
is never frozen into a replay at new ones.  The adversary's order is used throughout: the
first two calls at the same point (so that the two recordings agree), then other points.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet as nb
from nablanet import nn, optim
from nablanet.autodiff import replay


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


POINTS = [np.array([0.5, 1.5, 2.0]), np.array([0.5, 1.5, 2.0]),
          np.array([-1.0, 0.3, -2.0]), np.array([-0.5, -1.5, -0.25]), np.array([1.0, 2.0, 3.0])]


def assert_replay_is_eager(transform, f, points=POINTS):
    replayed, eager = transform(f, replay=True), transform(f)
    for x in points:
        got, want = replayed(x), eager(x)
        got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
        for a, b in zip(got, want, strict=True):
            assert same_bits(a, b), x


def mask_loss(x):
    mask = np.asarray(x.detach()) > 0
    return (x ** 3 * mask).sum()


def numpy_mask_loss(x):
    return (x ** 3 * (x.detach().numpy() > 0)).sum()


def branch_loss(x):
    if x.sum() > 0:
        return (x ** 3).sum()
    return (x ** 4).sum()


def item_loss(x):
    return (x ** 2).sum() * x[0].item()


def tolist_loss(x):
    count = sum(v > 0 for v in x.detach().tolist())
    return (x ** 3).sum() * count


@pytest.mark.parametrize("f", [mask_loss, numpy_mask_loss, branch_loss, item_loss, tolist_loss])
@pytest.mark.parametrize("transform", [nb.hessian, nb.jacobian, nb.value_and_grad])
def test_value_dependent_function_is_never_replayed(transform, f):
    assert_replay_is_eager(transform, f)


@pytest.mark.parametrize("f", [mask_loss, branch_loss, item_loss])
def test_hvp_of_a_value_dependent_function(f):
    v = np.array([1.0, -2.0, 0.5])
    replayed, eager = nb.hvp(f, replay=True), nb.hvp(f)
    for x in POINTS:
        assert same_bits(replayed(x, v), eager(x, v))


def test_asarray_of_a_traced_variable_is_refused():
    with pytest.raises(TypeError, match="requires grad"):
        nb.hessian(lambda x: (x ** 3 * (np.asarray(x) > 0)).sum(), replay=True)(POINTS[0])


def test_recorder_notes_reads_outside_primitives_only():
    x = nb.tensor([1.0, -2.0])
    with replay.recording() as recorder:
        y = x * 2
        assert float(y.sum()) == -2.0
        bool(y[0] > 0)
    assert len(recorder.observed) == 2
    with pytest.raises(replay.NotReplayableError, match="value-dependent"):
        replay.Program.build(recorder.entries, [], {}, y, scalar=False,
                             observed=recorder.observed)


def test_pure_function_still_replays():
    f = nb.hessian(lambda x: (x ** 3).sum(), replay=True)
    for x in POINTS:
        f(x)
    replayer = next(c.cell_contents for c in f.__closure__
                    if type(c.cell_contents).__name__ == "Replayer")
    assert any(type(p).__name__ == "Program" for p in replayer.cache.entries.values())


class SignGate(nn.Module):
    """Keeps the batch as is or negates it, by the sign of its mean: a Python branch."""

    replayable = True  # (wrongly) claimed by its author

    def forward(self, x):
        return x if float(x.mean()) > 0 else -x


def test_train_step_with_a_value_branch_runs_eagerly():
    def build():
        rng = np.random.default_rng(0)
        return nn.Sequential(nn.Linear(4, 3, generator=rng), SignGate())

    nets = [build(), build()]
    opts = [optim.SGD(n.parameters(), lr=0.1) for n in nets]
    step = optim.TrainStep(nets[0], nn.CrossEntropyLoss(), opts[0])
    rng = np.random.default_rng(1)
    x0, y0 = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    batches = [(x0, y0), (x0, y0)] + [(rng.standard_normal((6, 4)) * s, rng.integers(0, 3, 6))
                                      for s in (1, -3, 3, -3)]
    for x, y in batches:
        got = step(x, y)
        opts[1].zero_grad()
        want = nn.CrossEntropyLoss()(nets[1](nb.tensor(x)), y)
        want.backward()
        opts[1].step()
        assert same_bits(got.data, want.data)
        for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
            assert same_bits(a.data, b.data)
    assert step.replayed_steps == 0 and "value-dependent" in step.reason


# -- property: random functions with value-dependent steps ---------------------------------
def _smooth(kind):
    return {"cube": lambda x: x ** 3, "tanh": nb.tanh, "square": lambda x: x * x,
            "scale": lambda x: 1.5 * x}[kind]


def _branchy(kind, threshold):
    if kind == "if":
        return lambda x: x * x if x.sum() > threshold else x ** 3
    if kind == "mask":
        return lambda x: x * (np.asarray(x.detach()) > threshold)
    if kind == "item":
        return lambda x: x * x * x.max().item()
    return lambda x: x ** 3 if float(x[0]) > threshold else 2.0 * x


steps = st.one_of(
    st.tuples(st.just("smooth"), st.sampled_from(["cube", "tanh", "square", "scale"])),
    st.tuples(st.just("branch"), st.sampled_from(["if", "mask", "item", "float"]),
              st.floats(-1, 1)))
points = st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=3).map(np.array)


@settings(max_examples=25, deadline=None)
@given(st.lists(steps, min_size=1, max_size=4), st.lists(points, min_size=2, max_size=4),
       st.sampled_from(["hessian", "value_and_grad"]))
def test_property_replay_equals_eager_on_every_call(plan, xs, transform):
    parts = [_smooth(p[1]) if p[0] == "smooth" else _branchy(p[1], p[2]) for p in plan]

    def f(x):
        for part in parts:
            x = part(x)
        return x.sum()

    replayed, eager = getattr(nb, transform)(f, replay=True), getattr(nb, transform)(f)
    for x in [xs[0], *xs]:  # the first point twice: the two recordings agree
        got, want = replayed(x), eager(x)
        got, want = (got, want) if transform == "value_and_grad" else ((got,), (want,))
        for a, b in zip(got, want, strict=True):
            assert same_bits(a, b)
