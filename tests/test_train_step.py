"""``optim.TrainStep``: the recorded-then-replayed step against the plain eager loop.

Every test trains a :class:`Twins` pair: a model driven by ``TrainStep`` and an eager twin
built from the same seed and driven by ``zero_grad; loss_fn(net(x), y).backward(); step``.
After every step the losses, all of ``state_dict()`` (parameters, running statistics,
batch counters), every ``p.grad``, the optimiser state and the dropout generators' states
must agree bit for bit.
"""

import ast
import re
import threading
from collections import Counter

import numpy as np
import pytest

import nablanet as nb
from nablanet import nn, optim
from nablanet.autodiff import replay
from nablanet.autodiff.primitive import RECORDERS, REGISTRY
from nablanet.nn import functional as F

N_IN, N_OUT, ROWS = 20, 5, 12


# -- helpers ------------------------------------------------------------------------------
def same_bits(a, b):
    """Same shape, dtype and bytes (stricter than ``array_equal``: -0.0 != 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def assert_same_tree(a, b, where="optimizer state"):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same_tree(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            assert_same_tree(u, v, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert same_bits(a, b), where
    else:
        assert a == b, where


def sandwich(seed, width, *middle, n_out=N_OUT):
    """Builds Linear(N_IN, width), the ``middle`` modules (factories), Linear(width, n_out)."""
    def build():
        rng = np.random.default_rng(seed)
        return nn.Sequential(nn.Linear(N_IN, width, generator=rng), *(m() for m in middle),
                             nn.Linear(width, n_out, generator=rng))

    return build


class Twins:
    """A model trained by ``TrainStep`` and its eager twin, compared after every step."""

    def __init__(self, build, loss, opt, replay=True):
        self.net, self.ref = build(), build()
        self.loss_fn, self.ref_loss = loss(), loss()
        self.opt, self.ref_opt = opt(self.net.parameters()), opt(self.ref.parameters())
        self.step = optim.TrainStep(self.net, self.loss_fn, self.opt, replay=replay)
        self.losses = []

    def __call__(self, x, y):
        got = self.step(x, y)
        want = self.eager(x, y)
        assert same_bits(got.data, want.data)
        self.check()
        self.losses.append(got.data.copy())
        return got

    def eager(self, x, y):
        self.ref_opt.zero_grad()
        loss = self.ref_loss(self.ref(x), y)
        loss.backward()
        self.ref_opt.step()
        return loss

    def both(self, action):
        """Apply ``action(model)`` to the model and to its twin."""
        action(self.net)
        action(self.ref)

    def run(self, batches):
        for x, y in batches:
            self(x, y)
        return self

    def check(self):
        self.check_state()
        for (name, p), (_, q) in zip(self.net.named_parameters(), self.ref.named_parameters(),
                                     strict=True):
            if q.grad is None:
                assert p.grad is None, name
            else:
                assert same_bits(p.grad.data, q.grad.data), name
        assert_same_tree(self.opt.state_dict(), self.ref_opt.state_dict())

    def check_state(self):
        """Parameters, buffers and the dropout generators (not the grads)."""
        mine, theirs = self.net.state_dict(), self.ref.state_dict()
        assert list(mine) == list(theirs)
        for key in mine:
            assert same_bits(mine[key], theirs[key]), key
        for m, r in zip(self.net.modules(), self.ref.modules(), strict=True):
            generator = getattr(m, "generator", None)
            if generator is not None:
                assert generator.bit_generator.state == r.generator.bit_generator.state


def class_batches(n_steps, rows=ROWS, dtype=np.float64, seed=1, features=N_IN,
                  classes=N_OUT):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((rows, features)).astype(dtype),
             rng.integers(0, classes, rows)) for _ in range(n_steps)]


def value_batches(n_steps, targets, rows=ROWS, seed=2, binary=False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_steps):
        y = rng.integers(0, 2, (rows, targets)).astype(float) if binary else (
            rng.standard_normal((rows, targets)))
        out.append((rng.standard_normal((rows, N_IN)), y))
    return out


def notes_mlp(dtype=np.float64, seed=0, **kwargs):
    options = {"negative_slope": 0.1, "batch_norm": True, "dropout": 0.2, **kwargs}
    return lambda: nn.MLP(N_IN, 16, N_OUT, generator=np.random.default_rng(seed), dtype=dtype,
                          **options)


def sgd(**kwargs):
    options = {"lr": 0.05, "momentum": 0.9, **kwargs}
    return lambda params: optim.SGD(params, **options)


def programs(step):
    """The step's replayable programs (internal: ``TrainStep._cache``)."""
    return [p for p in step._cache.entries.values() if isinstance(p, replay.Program)]


class Scale(nn.Module):
    """A user-defined layer that does not opt in to replay."""

    def __init__(self, features):
        super().__init__()
        self.factor = nn.Parameter(np.linspace(0.5, 1.5, features))

    def forward(self, x):
        return x * self.factor


class Residual(nn.Module):
    """A user-defined layer that opts in: everything it does goes through primitives."""

    replayable = True

    def __init__(self, features, generator):
        super().__init__()
        self.inner = nn.Linear(features, features, generator=generator)
        self.act = nn.Tanh()

    def forward(self, x):
        return x + self.act(self.inner(x))


class AddsDataOutsidePrimitives(nn.Module):
    """Claims replayability but adds a value computed from the batch with raw NumPy."""

    replayable = True

    def forward(self, x):
        return x + nb.Tensor(np.asarray(x.data if isinstance(x, nb.Tensor) else x) * 2.0)


class NumpyMask(nn.Module):
    """Claims replayability but draws its dropout mask with NumPy directly."""

    replayable = True

    def __init__(self, seed):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        return x * (self.rng.random(x.shape) > 0.3).astype(float)


# -- the replay path: bit-identical to the eager step ---------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_notes_network_replays_bit_identically(dtype):
    twins = Twins(notes_mlp(dtype), nn.CrossEntropyLoss, sgd())
    twins.run(class_batches(10, dtype=dtype))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (2, 8)
    assert twins.step.reason is None
    assert all(loss.dtype == dtype for loss in twins.losses)
    assert int(twins.net[1].num_batches_tracked.data) == 10


@pytest.mark.parametrize("make_opt", [
    sgd(momentum=0.0),
    sgd(nesterov=True),
    sgd(dampening=0.1, weight_decay=1e-3),
    lambda p: optim.Adam(p, lr=1e-2),
    lambda p: optim.Adam(p, lr=1e-2, weight_decay=1e-3, amsgrad=True),
    lambda p: optim.AdamW(p, lr=1e-2, weight_decay=0.05),
], ids=["sgd", "nesterov", "dampening-decay", "adam", "amsgrad", "adamw"])
def test_optimizers_replay_bit_identically(make_opt):
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, make_opt).run(class_batches(7))
    assert twins.step.replayed_steps == 5


@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU, nn.Sigmoid, lambda: nn.LeakyReLU(0.3)],
                         ids=["tanh", "relu", "sigmoid", "leaky"])
def test_sequential_activations(activation):
    build = sandwich(3, 12, activation)
    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(class_batches(6))
    assert twins.step.replayed_steps == 4


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_two_hidden_layers(activation):
    twins = Twins(lambda: nn.MLP(N_IN, [16, 12], N_OUT, activation=activation, batch_norm=True,
                                 dropout=0.3, generator=np.random.default_rng(4)),
                  nn.CrossEntropyLoss, sgd())
    twins.run(class_batches(6))
    assert twins.step.replayed_steps == 4
    assert sum(isinstance(m, nn.Linear) for m in twins.net.modules()) == 3


def test_gaussian_dropout():
    def build():
        rng = np.random.default_rng(5)
        return nn.Sequential(nn.Linear(N_IN, 12, generator=rng), nn.GaussianDropout(p=0.3,
                             generator=np.random.default_rng(6)), nn.ReLU(),
                             nn.Linear(12, N_OUT, generator=rng))

    twins = Twins(build, nn.CrossEntropyLoss, lambda p: optim.Adam(p, lr=1e-2))
    twins.run(class_batches(6))
    assert twins.step.replayed_steps == 4


def test_batch_norm_cumulative_average_counts_in_replay():
    build = sandwich(7, 12, lambda: nn.BatchNorm1d(12, momentum=None), nn.ReLU)
    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(class_batches(8))
    assert twins.step.replayed_steps == 6
    assert int(twins.net[1].num_batches_tracked.data) == 8
    # the cumulative average of the eight batch means, not a frozen factor
    assert not same_bits(twins.net[1].running_mean.data, np.zeros(12))


@pytest.mark.parametrize("options", [{"affine": False}, {"track_running_stats": False},
                                     {"eps": 1e-3, "momentum": 0.3}],
                         ids=["no-affine", "no-running-stats", "eps-momentum"])
def test_batch_norm_variants(options):
    build = sandwich(8, 12, lambda: nn.BatchNorm1d(12, **options), nn.Tanh)
    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(class_batches(6))
    assert twins.step.replayed_steps == 4


def test_batch_norm_on_three_dimensional_input():
    rng = np.random.default_rng(19)
    batches = [(rng.standard_normal((5, 4, 3)), rng.standard_normal((5, 4, 3)))
               for _ in range(4)]
    twins = Twins(lambda: nn.Sequential(nn.BatchNorm1d(4)), nn.MSELoss, sgd())
    twins.run(batches)  # reshape and transpose carry a non-differentiable positional argument
    assert twins.step.replayed_steps == 2


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_loss(reduction):
    def build():
        rng = np.random.default_rng(9)
        return nn.Sequential(nn.Linear(N_IN, 8, generator=rng), nn.Tanh(),
                             nn.Dropout(0.25, generator=rng), nn.Linear(8, 3, generator=rng))

    twins = Twins(build, lambda: nn.MSELoss(reduction=reduction), sgd(lr=0.01))
    twins.run(value_batches(6, 3))
    assert twins.step.replayed_steps == 4


@pytest.mark.parametrize("weight", [None, np.array([0.5, 2.0])], ids=["plain", "weight"])
def test_bce_with_logits_loss(weight):
    build = sandwich(10, 8, nn.ReLU, n_out=2)
    twins = Twins(build, lambda: nn.BCEWithLogitsLoss(weight=weight), sgd())
    twins.run(value_batches(6, 2, binary=True))
    assert twins.step.replayed_steps == 4


def test_functional_cross_entropy_as_loss_fn():
    twins = Twins(notes_mlp(), lambda: F.cross_entropy, sgd()).run(class_batches(6))
    assert twins.step.replayed_steps == 4


def test_probability_targets_replay():
    rng = np.random.default_rng(11)
    batches = [(x, rng.dirichlet(np.ones(N_OUT), ROWS)) for x, _ in class_batches(6)]
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd()).run(batches)
    assert twins.step.replayed_steps == 4


def test_opted_in_user_module_and_tied_weights():
    def build():
        rng = np.random.default_rng(12)
        tied = nn.Linear(N_IN, N_IN, generator=rng)
        return nn.Sequential(Residual(N_IN, rng), tied, nn.Tanh(), tied,
                             nn.Linear(N_IN, N_OUT, generator=rng))

    twins = Twins(build, nn.CrossEntropyLoss, lambda p: optim.Adam(p, lr=1e-2))
    twins.run(class_batches(6))
    assert twins.step.replayed_steps == 4


def test_parameters_outside_the_optimizer_accumulate_grads():
    last_layer = sgd(momentum=0.0)
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss,
                  lambda params: last_layer(list(params)[-2:])).run(class_batches(6))
    assert twins.step.replayed_steps == 4
    # zero_grad clears only the optimiser's parameters: the first layer's grads add up
    first, untrained = twins.net[0].weight, notes_mlp()()[0].weight
    assert same_bits(first.data, untrained.data)
    assert first.grad is not None and np.any(first.grad.data != 0)


# -- fallbacks: eager, with a reason, still identical ---------------------------------
def test_user_module_never_replays():
    build = sandwich(13, 8, lambda: Scale(8))
    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(class_batches(5))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (5, 0)
    assert "Scale" in twins.step.reason


@pytest.mark.parametrize("loss", [
    lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
    lambda: nn.CrossEntropyLoss(weight=np.linspace(0.5, 1.5, N_OUT)),
    lambda: (lambda z, y: F.cross_entropy(z, y)),
], ids=["label-smoothing", "class-weight", "unlisted-function"])
def test_unreplayable_losses_run_eagerly(loss):
    twins = Twins(notes_mlp(), loss, sgd()).run(class_batches(5))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (5, 0)
    assert isinstance(twins.step.reason, str) and twins.step.reason


@pytest.mark.parametrize("loss", [
    lambda: nn.BCELoss(),
    lambda: nn.BCEWithLogitsLoss(pos_weight=np.array([2.0])),
], ids=["bce", "pos-weight"])
def test_unreplayable_binary_losses_run_eagerly(loss):
    def build():
        rng = np.random.default_rng(14)
        return nn.Sequential(nn.Linear(N_IN, 6, generator=rng), nn.Tanh(),
                             nn.Linear(6, 1, generator=rng), nn.Sigmoid())

    twins = Twins(build, loss, sgd()).run(value_batches(4, 1, binary=True))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (4, 0)
    assert type(twins.loss_fn).__name__ in twins.step.reason


def test_ignore_index_batch_runs_eagerly_then_replay_resumes():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(6)
    twins.run(batches[:3])
    x, y = batches[3]
    y = y.copy()
    y[[1, 4]] = -100
    twins(x, y)
    assert twins.step.eager_steps == 3
    assert "labels" in twins.step.reason
    twins.run(batches[4:])
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (3, 3)


def test_out_of_range_labels_raise_the_eager_error():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(6)
    twins.run(batches[:3])
    x, y = batches[3]
    y = y.copy()
    y[2] = N_OUT + 2
    with pytest.raises(ValueError, match="class labels must lie"):
        twins.step(x, y)
    with pytest.raises(ValueError, match="class labels must lie"):
        twins.eager(x, y)
    # the forward pass ran in both: statistics and dropout draws agree, and both cleared
    # the grads before it (zero_grad first, as in the usual loop)
    twins.check()
    twins.run(batches[4:])
    assert twins.step.replayed_steps == 3


def test_inputs_requiring_grad_run_eagerly():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(5)
    twins.run(batches[:3])
    for x, y in batches[3:]:
        mine, theirs = nb.Tensor(x, requires_grad=True), nb.Tensor(x, requires_grad=True)
        got = twins.step(mine, y)
        assert twins.step.reason == "an input requires grad"
        assert same_bits(got.data, twins.eager(theirs, y).data)
        assert same_bits(mine.grad.data, theirs.grad.data)
        twins.check()
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (4, 1)


@pytest.mark.parametrize("cheat", [lambda: AddsDataOutsidePrimitives(), lambda: NumpyMask(15)],
                         ids=["data-outside-primitives", "numpy-mask"])
def test_values_outside_primitives_prevent_replay(cheat):
    build = sandwich(16, 8, cheat)
    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(class_batches(6))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (6, 0)
    assert "differ" in twins.step.reason


# -- keys: shapes, modes, requires_grad, the program limit ----------------------------
def test_partial_last_batch_gets_its_own_program():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    full, part = class_batches(5), class_batches(4, rows=5, seed=3)
    for x, y in [full[0], full[1], full[2], part[0], full[3], part[1], part[2], full[4], part[3]]:
        twins(x, y)
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (4, 5)
    assert len(programs(twins.step)) == 2


def test_switching_eval_and_train_records_each_mode():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = iter(class_batches(9))
    for mode, steps in [("train", 3), ("eval", 3), ("train", 3)]:
        twins.both(lambda m, mode=mode: getattr(m, mode)())
        for _ in range(steps):
            twins(*next(batches))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (4, 5)
    assert int(twins.net[1].num_batches_tracked.data) == 6


def test_replay_false_only_runs_eagerly():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd(), replay=False)
    twins.run(class_batches(5))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (5, 0)
    assert twins.step.reason == "replay=False"


def test_freezing_a_parameter_records_again():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(7)
    twins.run(batches[:3])

    def freeze(model):
        model[0].weight.requires_grad = False

    twins.both(freeze)
    twins.run(batches[3:])
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (4, 3)
    assert twins.net[0].weight.grad is None


def test_more_distinct_shapes_than_the_limit_run_eagerly():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    limit = optim.train_step.MAX_PROGRAMS
    for rows in range(2, limit + 3):
        twins(*class_batches(1, rows=rows, seed=rows)[0])
    assert twins.step.eager_steps == limit + 1
    assert f"more than {limit}" in twins.step.reason


def test_load_state_dict_after_replay_is_seen():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd(momentum=0.0))
    batches = class_batches(7)
    twins.run(batches[:4])
    other = notes_mlp(seed=99)()
    other.train()
    other(batches[0][0])  # running statistics that differ from the twins'
    twins.both(lambda m: m.load_state_dict(other.state_dict()))
    twins.run(batches[4:])
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (2, 5)


# -- what the replay runs -------------------------------------------------------------
def test_dropout_masks_are_fresh_in_every_replay():
    def build():
        rng = np.random.default_rng(17)
        return nn.Sequential(nn.Linear(N_IN, N_OUT, generator=rng), nn.Dropout(0.5,
                             generator=np.random.default_rng(18)))

    twins = Twins(build, nn.CrossEntropyLoss, sgd(lr=1e-300, momentum=0.0))
    x, y = class_batches(1)[0]
    twins.run([(x, y)] * 6)
    assert twins.step.replayed_steps == 4
    replayed = [loss.item() for loss in twins.losses[2:]]
    assert len(set(replayed)) == len(replayed)  # the same batch, a new mask each step


def _count_inplace_calls(monkeypatch, names):
    counts = Counter()
    for name in names:
        prim = REGISTRY[name]
        original = prim.inplace_vjp

        def counting(*args, _original=original, _name=name, **kwargs):
            result = _original(*args, **kwargs)
            counts[_name, result is not None] += 1
            return result

        monkeypatch.setattr(prim, "inplace_vjp", counting)
        assert prim.inplace_vjp_valid()  # the ordinary rules are untouched
    return counts


def test_inplace_rule_choices_match_eager(monkeypatch):
    names = ["batch_norm", "leaky_relu", "multiply", "linear", "softmax_cross_entropy_index"]
    counts = _count_inplace_calls(monkeypatch, names)
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    for x, y in class_batches(6):
        before = counts.copy()
        twins.step(x, y)
        mine, before = counts - before, counts.copy()
        twins.eager(x, y)
        assert mine == counts - before
        twins.check()
    assert twins.step.replayed_steps == 4
    assert all(mine[name, True] == 1 for name in ["batch_norm", "leaky_relu", "multiply"])
    source = programs(twins.step)[0].source
    assert source.count("exclusive(") == 3  # batch_norm, leaky_relu, multiply (dropout)


def test_program_source_is_flat_python_with_one_call_per_kernel():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd()).run(class_batches(3))
    (program,) = programs(twins.step)
    ast.parse(program.source)
    names = [name for name, _ in program.signature]
    assert names == ["linear", "batch_norm_statistics", "batch_norm", "leaky_relu",
                     "dropout_mask_draw", "multiply", "linear", "class_index_labels",
                     "softmax_cross_entropy_index"]
    namespace = program._replay.__globals__
    called = Counter(re.findall(r"= (?:asarray\()?(f\d+)\(", program.source))
    expected = Counter()
    for impl, *_ in program.guards + program.forward:
        (name,) = [k for k, v in namespace.items() if k.startswith("f") and v is impl]
        expected[name] += 1
    assert called == expected
    assert sum(called.values()) == len(names)
    assert REGISTRY["dropout_mask_draw"].impl in namespace.values()


def test_returned_losses_are_detached_and_stay_put():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    returned = [twins(x, y) for x, y in class_batches(6)]
    assert all(isinstance(loss, nb.Tensor) and not loss.requires_grad for loss in returned)
    assert all(same_bits(loss.data, saved) for loss, saved in zip(returned, twins.losses,
                                                                     strict=True))
    assert len({loss.item() for loss in returned}) == 6


def test_repr_reports_counts_and_reason():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    twins(*class_batches(1)[0])
    assert repr(twins.step) == (
        "TrainStep(replayed_steps=0, eager_steps=1, "
        f"reason={twins.step.reason!r})")
    twins.run(class_batches(3, seed=5))
    assert "replayed_steps=2, eager_steps=2, reason=None" in repr(twins.step)


# -- recording --------------------------------------------------------------------------
def test_recording_sees_only_its_own_thread():
    results = {}

    def other_thread():
        results["exp"] = nb.exp(np.ones(3))

    with replay.recording() as recorder:
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        mine = nb.log(np.full(2, 2.0))
    assert [prim.name for prim, *_ in recorder.entries] == ["log"]
    assert recorder.entries[0][3] is mine
    assert same_bits(results["exp"], np.exp(np.ones(3)))
    assert threading.get_ident() not in RECORDERS


def test_nested_recording_raises_and_cleans_up():
    with replay.recording() as outer:
        with pytest.raises(RuntimeError, match="already active"):
            with replay.recording():
                pass
        nb.exp(np.zeros(1))
    assert [prim.name for prim, *_ in outer.entries] == ["exp"]
    assert threading.get_ident() not in RECORDERS
    with replay.recording() as again:
        nb.exp(np.zeros(1))
    assert len(again.entries) == 1


# -- changes after replay started (each was a mismatch before the fix) -----------------
def test_replaced_dropout_generator_is_used():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(7)
    twins.run(batches[:3])

    def reseed(model):
        model[3].generator = np.random.default_rng(20)

    twins.both(reseed)
    twins.run(batches[3:])
    assert twins.step.replayed_steps == 3  # the new generator was recorded, then replayed


def test_changed_dropout_probability_is_used():
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(5)
    twins.run(batches[:3])

    def more_dropout(model):
        model[3].p = 0.6

    twins.both(more_dropout)
    twins.run(batches[3:])
    assert twins.step.reason is None or "recorded" in twins.step.reason


def test_ignore_index_labels_recorded_twice():
    # the one-hot targets and their count are built by a primitive: replayed, not frozen
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(4)
    labels = batches[0][1].copy()
    labels[0] = -100
    twins(batches[0][0], labels)
    twins(batches[1][0], labels)
    other = batches[2][1].copy()
    other[5] = -100
    twins(batches[2][0], other)
    assert twins.step.replayed_steps == 1  # the ignore_index path itself replays
    another = batches[3][1].copy()
    another[[1, 2]] = -100
    twins(batches[3][0], another)
    assert twins.step.replayed_steps == 2


def test_loss_made_unreplayable_after_replay_started_runs_eagerly():
    # class weights set on the loss after replay started: a new key, checked at recording
    twins = Twins(notes_mlp(), nn.CrossEntropyLoss, sgd())
    batches = class_batches(7)
    twins.run(batches[:3])
    assert twins.step.replayed_steps == 1

    def weigh(loss_fn):
        loss_fn.weight = np.linspace(0.5, 2.0, N_OUT)

    weigh(twins.loss_fn)
    weigh(twins.ref_loss)
    twins.run(batches[3:])
    assert twins.step.replayed_steps == 1
    assert "CrossEntropyLoss" in twins.step.reason


# -- found in review: aliasing, structure changes, nesting --------------------------------
def autoencoder():
    rng = np.random.default_rng(20)
    return nn.Sequential(nn.Linear(N_IN, 6, generator=rng), nn.Tanh(),
                         nn.Linear(6, N_IN, generator=rng))


def test_input_used_as_target_is_not_confused_with_a_separate_target():
    twins = Twins(autoencoder, nn.MSELoss, sgd(lr=0.01))
    x = [b[0] for b in class_batches(6)]
    twins.run([(x[0], x[0]), (x[1], x[1]), (x[2], x[2])])  # recorded twice, then replayed
    assert twins.step.replayed_steps == 1
    twins.run([(x[3], x[4]), (x[4], x[5]), (x[5], x[3])])  # other programs, same results
    twins.run([(x[3], x[3])])
    assert twins.step.replayed_steps == 3


@pytest.mark.parametrize("change", ["append", "register_parameter", "new_dropout"])
def test_structure_changes_after_replay_started_are_seen(change):
    twins = Twins(sandwich(21, 8, nn.Tanh), nn.CrossEntropyLoss, sgd())
    batches = class_batches(9)
    twins.run(batches[:3])

    def alter(model):
        if change == "append":
            model.append(nn.LeakyReLU(0.2))
        elif change == "register_parameter":
            model[0].register_parameter("bias", None)
        else:
            model.gate = nn.Dropout(0.5, generator=np.random.default_rng(22))
            model.append(model.gate)

    twins.both(alter)
    twins.run(batches[3:6])
    if change == "new_dropout":
        twins.both(lambda model: model.gate.eval())  # its mode is part of the key
    twins.run(batches[6:])
    assert twins.step.replayed_steps >= 2


def test_astype_after_replay_started_raises_as_eagerly():
    twins = Twins(sandwich(23, 8, nn.Tanh), nn.CrossEntropyLoss, sgd())
    batches = class_batches(4)
    twins.run(batches[:3])
    twins.both(lambda model: model.astype(np.float32))
    with pytest.raises(TypeError, match="dtype float64"):
        twins.step(*batches[3])


def test_a_step_inside_a_recording_runs_eagerly():
    net = sandwich(24, 8, nn.Tanh)()
    step = optim.TrainStep(net, nn.CrossEntropyLoss(), optim.SGD(net.parameters(), lr=0.1))
    x, y = class_batches(1)[0]
    with replay.recording():
        step(x, y)
    assert step.eager_steps == 1 and "inside another recording" in step.reason
