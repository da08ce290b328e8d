"""``replay=True`` for value_and_grad, jacobian, hessian and hvp against the eager transforms.

A replaying transform records its primitive calls on the first two calls per key (shapes and
dtypes of the array arguments, values of the other arguments, argnums) and replays flat code
from the third call on.  Every test calls a ``replay=True`` transform and a fresh eager one
on the same arguments, several times at different points, and asserts the results agree bit
for bit (shape, dtype and bytes); the :func:`runs` fixture counts the replays that really
happened (``Program.run`` calls that did not decline).
"""

import ast
import copy
import pickle

import numpy as np
import pytest

import nablanet as nb
from flat_params import split_flat
from nablanet.autodiff import replay
from nablanet.autodiff.replayed_transforms import Replayer
from nablanet.nn import functional as F

N, N_IN, HIDDEN, C = 12, 5, 4, 3
SIZES = [(N_IN, HIDDEN), (HIDDEN,), (HIDDEN, C), (C,)]
N_PARAMS = sum(int(np.prod(s)) for s in SIZES)
CALLS = 5


# -- helpers ------------------------------------------------------------------------------
def same_bits(a, b):
    """Same type, shape, dtype and bytes (stricter than ``array_equal``: -0.0 != 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, nb.Tensor):
        a, b = a.data, b.data
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def assert_same(got, want):
    """Results of two transforms (an array, a Tensor or a tuple of them) agree bit for bit."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    else:
        assert same_bits(got, want), (got, want)


def compare(transform, reference, calls):
    """Call both transforms on each argument tuple; every result must agree bit for bit."""
    results = []
    for args in calls:
        got = transform(*args)
        assert_same(got, reference(*args))
        results.append(got)
    return results


def replayer_of(transform):
    """The :class:`Replayer` a ``replay=True`` transform closes over."""
    found = [cell.cell_contents for cell in transform.__closure__ or ()
             if isinstance(cell.cell_contents, Replayer)]
    assert len(found) == 1
    return found[0]


def programs_of(transform):
    return [p for p in replayer_of(transform).cache.entries.values()
            if type(p) is replay.Program]


@pytest.fixture
def runs(monkeypatch):
    """Outcomes of ``Program.run`` calls: 'replayed' or 'declined' (a guard said no)."""
    outcomes = []
    original = replay.Program.run

    def counted(self, inputs, seeds):
        try:
            result = original(self, inputs, seeds)
        except replay.ReplayMissError:
            outcomes.append("declined")
            raise
        outcomes.append("replayed")
        return result

    monkeypatch.setattr(replay.Program, "run", counted)
    return outcomes


def unflatten(theta):
    """W1, b1, W2, b2 sliced out of one parameter vector and reshaped (bench/_mlp.py)."""
    return split_flat(theta, SIZES)


def network(activation):
    def logits(theta, X, target):
        W1, b1, W2, b2 = unflatten(theta)
        return activation(X @ W1 + b1) @ W2 + b2

    return logits


def lse_loss(logits):
    def loss(theta, X, Y):
        z = logits(theta, X, Y)
        return nb.mean(nb.logsumexp(z, axis=1) - nb.sum(z * Y, axis=1))

    return loss


def ce_loss(logits):
    def loss(theta, X, labels):
        return F.cross_entropy(logits(theta, X, labels), labels)

    return loss


def bn_sigmoid(h):
    return F.sigmoid(F.batch_norm(h, None, None, training=True))


CASES = {  # name: (hidden activation, loss, one-hot targets)
    "mlp_tanh_lse": (nb.tanh, lse_loss, True),
    "leaky_relu_ce": (lambda h: F.leaky_relu(h, 0.1), ce_loss, False),
    "batch_norm_sigmoid_ce": (bn_sigmoid, ce_loss, False),
}


def problem(case, dtype, n_calls=CALLS, seed=0):
    """The function to transform and per-call arguments: new theta and X at every call."""
    activation, loss, onehot = CASES[case]
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, N)
    target = np.eye(C, dtype=dtype)[labels] if onehot else labels
    calls = [(0.5 * rng.standard_normal(N_PARAMS).astype(dtype),
              rng.standard_normal((N, N_IN)).astype(dtype), target) for _ in range(n_calls)]
    return network(activation), loss(network(activation)), calls


def with_directions(calls, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return [args + (rng.standard_normal(N_PARAMS).astype(dtype),) for args in calls]


def make(kind, fun, **kwargs):
    return getattr(nb, kind)(fun, **kwargs)


def transform_params():
    params = []
    for case in CASES:
        for kind in ("value_and_grad", "jacobian", "hessian", "hvp"):
            for dtype in (np.float64, np.float32):
                params.append(pytest.param(case, kind, dtype,
                                           id=f"{case}-{kind}-{np.dtype(dtype).name}"))
    return params


# -- the transforms on the notes' networks --------------------------------------------------
@pytest.mark.parametrize(("case", "kind", "dtype"), transform_params())
def test_replay_is_bit_identical_and_replays(runs, case, kind, dtype):
    """Calls 1-2 record, calls 3-5 replay; new theta and data X at every call."""
    logits, loss, calls = problem(case, dtype)
    fun = logits if kind == "jacobian" else loss
    if kind == "hvp":
        calls = with_directions(calls, dtype)
    transform = make(kind, fun, replay=True)
    results = compare(transform, make(kind, fun), calls)
    last = results[-1][1] if kind == "value_and_grad" else results[-1]
    assert last.dtype == dtype
    assert len(programs_of(transform)) == 1
    assert runs == ["replayed"] * (CALLS - 2)


def test_rectifier_second_order_equals_eager_while_signs_change():
    """Whatever the replay decides, leaky_relu's Hessian stays the eager one."""
    _, loss, calls = problem("leaky_relu_ce", np.float64)
    compare(nb.hessian(loss, replay=True), nb.hessian(loss), calls)
    calls = with_directions(calls, np.float64)
    compare(nb.hvp(loss, replay=True), nb.hvp(loss), calls)


# masks of backward rules (relu, leaky_relu, abs, max) are primitives: recomputed by a replay
@pytest.mark.parametrize(("kind", "rectifier"), [
    ("hvp", F.relu),
    ("hessian", lambda x: F.leaky_relu(x, 0.1)),
    ("hvp", nb.abs),
    ("hessian", lambda x: nb.max(x) * x),
], ids=["hvp-relu", "hessian-leaky_relu", "hvp-abs", "hessian-max"])
def test_second_order_replay_sees_a_new_sign_pattern(kind, rectifier):
    """Two calls with the same signs record equal programs; the third flips every sign."""
    def fun(x):
        return nb.sum(rectifier(x) ** 3)

    x = np.array([1.5, -2.0, 0.5, -0.25])
    calls = [(x,), (2 * x,), (-x,), (-3 * x,)]
    if kind == "hvp":
        calls = [args + (np.array([1.0, 2.0, 3.0, 4.0]),) for args in calls]
    compare(make(kind, fun, replay=True), make(kind, fun), calls)


# -- arguments: argnums, data, Python scalars, dtypes ----------------------------------------
def layer(W, b, X, unused):
    return nb.tanh(X @ W + b)


def layer_calls(rng, n_calls=CALLS, dtype=np.float64):
    return [tuple(rng.standard_normal(shape).astype(dtype)
                  for shape in [(N_IN, HIDDEN), (HIDDEN,), (N, N_IN), (2,)])
            for _ in range(n_calls)]


@pytest.mark.parametrize("kind", ["jacobian", "value_and_grad"])
def test_argnums_tuple_with_a_changing_data_argument(runs, rng, kind):
    """argnums (0, 1, 3): W, b and an argument the output ignores (zeros); X changes."""
    def fun(*args):
        out = layer(*args)
        return out if kind == "jacobian" else nb.sum(out * out)

    calls = layer_calls(rng)
    transform = make(kind, fun, argnums=(0, 1, 3), replay=True)
    results = compare(transform, make(kind, fun, argnums=(0, 1, 3)), calls)
    assert runs == ["replayed"] * (CALLS - 2)
    grads = results[-1] if kind == "jacobian" else results[-1][1]
    assert not grads[2].any()
    # a replay that kept the recorded X would differ from the eager result at the new X
    W, b, _, u = calls[-1]
    stale = make(kind, fun, argnums=(0, 1, 3))(W, b, calls[0][2], u)
    assert not same_bits(grads[0], stale[0] if kind == "jacobian" else stale[1][0])


def test_python_scalar_argument_is_part_of_the_key(runs, rng):
    """A temperature changed between calls records anew; each value replays its own program."""
    def fun(theta, X, temperature):
        z = network(nb.tanh)(theta, X, None) / temperature
        return nb.mean(nb.logsumexp(z, axis=1))

    temperatures = [1.0, 1.0, 1.0, 2.5, 2.5, 2.5, 1.0]
    calls = [(rng.standard_normal(N_PARAMS), rng.standard_normal((N, N_IN)), t)
             for t in temperatures]
    transform = nb.hessian(fun, replay=True)
    compare(transform, nb.hessian(fun), calls)
    assert runs == ["replayed"] * 3
    keys = [key for key, p in replayer_of(transform).cache.entries.items()
            if type(p) is replay.Program]
    assert sorted(key[2][2] for key in keys) == [1.0, 2.5]
    theta, X, _ = calls[-1]
    assert not same_bits(nb.hessian(fun)(theta, X, 1.0), nb.hessian(fun)(theta, X, 2.5))


def test_dtypes_of_the_same_shape_are_separate_keys(runs, rng):
    def fun(x):
        return nb.sum(nb.tanh(x) ** 2)

    calls = [(rng.standard_normal(6).astype(dtype),)
             for dtype in [np.float64, np.float32] * 3 + [np.float32, np.float64]]
    transform = nb.value_and_grad(fun, replay=True)
    results = compare(transform, nb.value_and_grad(fun), calls)
    assert [r[1].dtype for r in results[-2:]] == [np.float32, np.float64]
    assert runs == ["replayed"] * 4
    assert len(programs_of(transform)) == 2


# -- calls that run eagerly ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["value_and_grad", "jacobian", "hessian", "hvp"])
def test_output_independent_of_x(runs, rng, kind):
    """f ignores x (or is affine in it): zero derivatives, no program, eager results."""
    def constant(x, c):
        out = nb.tanh(c)
        return out if kind == "jacobian" else nb.sum(out)

    def affine(x, c):
        out = x * c
        return out if kind == "jacobian" else nb.sum(out)

    for fun in (constant, affine):
        calls = [(rng.standard_normal(3), rng.standard_normal(3)) for _ in range(CALLS)]
        if kind == "hvp":
            calls = [args + (rng.standard_normal(3),) for args in calls]
        transform = make(kind, fun, replay=True)
        results = compare(transform, make(kind, fun), calls)
        if kind in ("hessian", "hvp") or fun is constant:
            last = results[-1][1] if kind == "value_and_grad" else results[-1]
            assert not np.asarray(last).any()
    if kind in ("hessian", "hvp"):
        assert runs == [] and programs_of(transform) == []


@pytest.mark.parametrize("kind", ["hvp", "value_and_grad"])
def test_nested_inside_another_transform_runs_eagerly(runs, rng, kind):
    """A warmed-up replaying transform called inside nb.grad / nb.jacobian: eager nesting."""
    _, loss, calls = problem("mlp_tanh_lse", np.float64, n_calls=6)
    v = rng.standard_normal(N_PARAMS)
    inner, inner_ref = make(kind, loss, replay=True), make(kind, loss)
    if kind == "hvp":
        compare(inner, inner_ref, [args + (v,) for args in calls[:3]])

        def outer_of(t):
            return nb.grad(lambda theta, X, Y: nb.sum(t(theta, X, Y, v) ** 2))
    else:
        compare(inner, inner_ref, calls[:3])

        def outer_of(t):
            return nb.jacobian(lambda theta, X, Y: t(theta, X, Y)[1])
    assert runs == ["replayed"]
    compare(outer_of(inner), outer_of(inner_ref), calls[3:])
    assert runs == ["replayed"]
    assert len(replayer_of(inner).cache.entries) == 1


def test_differentiated_tensor_that_requires_grad_runs_eagerly(runs, rng):
    _, loss, calls = problem("mlp_tanh_lse", np.float64)
    calls = [(nb.Tensor(theta, requires_grad=True), X, Y, rng.standard_normal(N_PARAMS))
             for theta, X, Y, in calls]
    for kind, args_of in [("hvp", lambda a: a), ("value_and_grad", lambda a: a[:3])]:
        transform = make(kind, loss, replay=True)
        results = compare(transform, make(kind, loss), [args_of(a) for a in calls])
        assert isinstance(results[-1], nb.Tensor if kind == "hvp" else tuple)
        assert replayer_of(transform).cache.entries == {}
    assert runs == []


def test_tensor_without_grad_is_an_array_and_replays(runs):
    _, loss, calls = problem("mlp_tanh_lse", np.float64)
    calls = [(nb.Tensor(theta), nb.Tensor(X), Y) for theta, X, Y in calls]
    compare(nb.hessian(loss, replay=True), nb.hessian(loss), calls)
    assert runs == ["replayed"] * (CALLS - 2)


def pair_loss(w, data):
    X, y = data
    return nb.sum((nb.tanh(X @ w) - y) ** 2)


def test_list_argument_kept_alive_runs_eagerly(rng):
    """Live lists (distinct objects) are distinct keys: each call is eager."""
    w = rng.standard_normal(3)
    data = [[rng.standard_normal((4, 3)), rng.standard_normal(4)] for _ in range(CALLS)]
    compare(nb.value_and_grad(pair_loss, replay=True), nb.value_and_grad(pair_loss),
            [(w, d) for d in data])


def test_list_argument_refilled_between_calls(rng):
    # an unhashable argument keys no program: every call runs eagerly
    transform, reference = nb.value_and_grad(pair_loss, replay=True), nb.value_and_grad(pair_loss)
    w = rng.standard_normal(3)
    data = [rng.standard_normal((4, 3)), rng.standard_normal(4)]
    for i in range(CALLS):
        if i >= 2:
            data[:] = [rng.standard_normal((4, 3)), rng.standard_normal(4)]
        assert_same(transform(w, data), reference(w, data))


def test_branch_on_values_that_differs_between_recordings_never_replays(runs, rng):
    """The first two calls take different Python branches: the recordings differ.

    Caveat (as with ``jax.jit``): a branch that takes the same way in the first two calls
    is frozen into the program and not re-evaluated; that is documented, not tested here.
    """
    def fun(x):
        if np.sum(x.data) > 0:
            return nb.sum(nb.tanh(x) ** 2)
        return nb.sum(nb.exp(x) * x)

    signs = [1, -1, 1, -1, 1, 1]
    calls = [(s * np.abs(rng.standard_normal(4)),) for s in signs]
    for kind in ("hessian", "value_and_grad"):
        transform = make(kind, fun, replay=True)
        compare(transform, make(kind, fun), calls)
        assert "differ" in replayer_of(transform).cache.reason
        assert programs_of(transform) == []
    assert runs == []


# -- cross-entropy labels: the guard --------------------------------------------------------
def labelled_problem(rng):
    X = rng.standard_normal((N, N_IN))

    def fun(w, labels):
        return F.cross_entropy(X @ nb.reshape(w, (N_IN, C)), labels)

    return fun, rng.integers(0, C, N)


@pytest.mark.parametrize("kind", ["value_and_grad", "hvp"])
def test_ignore_index_label_declines_then_replays_again(runs, rng, kind):
    fun, labels = labelled_problem(rng)
    ignored = labels.copy()
    ignored[3] = -100
    calls = [(rng.standard_normal(N_IN * C), y) for y in [labels] * 3 + [ignored, labels]]
    if kind == "hvp":
        calls = [args + (rng.standard_normal(N_IN * C),) for args in calls]
    compare(make(kind, fun, replay=True), make(kind, fun), calls)
    assert runs == ["replayed", "declined", "replayed"]


def test_labels_changing_after_two_recordings_replay(runs, rng):
    """The guard accepts any valid labels; the replay reads the new ones."""
    fun, labels = labelled_problem(rng)
    calls = [(rng.standard_normal(N_IN * C), y)
             for y in [labels, labels] + [rng.integers(0, C, N) for _ in range(3)]]
    compare(nb.value_and_grad(fun, replay=True), nb.value_and_grad(fun), calls)
    assert runs == ["replayed"] * 3


def test_out_of_range_label_raises_like_eager(runs, rng):
    fun, labels = labelled_problem(rng)
    transform, reference = nb.value_and_grad(fun, replay=True), nb.value_and_grad(fun)
    w = rng.standard_normal(N_IN * C)
    compare(transform, reference, [(w, labels)] * 3)
    wrong = labels.copy()
    wrong[5] = C
    with pytest.raises(ValueError, match="class labels must lie") as got:
        transform(w, wrong)
    with pytest.raises(ValueError) as want:
        reference(w, wrong)
    assert str(got.value) == str(want.value)
    compare(transform, reference, [(w, labels)])
    assert runs == ["replayed", "declined", "replayed"]


def test_second_order_of_a_gradient_norm_sees_new_labels(rng):
    """hvp of |grad CE|^2 depends on the labels through the gradient's backward pass."""
    fun, labels = labelled_problem(rng)

    def gradient_norm(w, y):
        return nb.sum(nb.grad(fun)(w, y) ** 2)

    w, v = rng.standard_normal(N_IN * C), rng.standard_normal(N_IN * C)
    others = [rng.integers(0, C, N) for _ in range(3)]
    calls = [(w, y, v) for y in [labels, labels] + others]
    compare(nb.hvp(gradient_norm, replay=True), nb.hvp(gradient_norm), calls)


# -- hvp directions -----------------------------------------------------------------------
@pytest.mark.parametrize("v", [2.0, np.float32(0.5), np.array(-1.5), np.arange(N_PARAMS), 3],
                         ids=["float", "float32-scalar", "0d-array", "int-array", "int"])
def test_hvp_direction_broadcast_and_integer(runs, v):
    _, loss, calls = problem("mlp_tanh_lse", np.float64)
    compare(nb.hvp(loss, replay=True), nb.hvp(loss), [args + (v,) for args in calls])
    assert runs == ["replayed"] * (CALLS - 2)


# -- the cache ----------------------------------------------------------------------------
def test_more_than_eight_shapes_run_eagerly(runs, rng):
    def fun(x):
        return nb.sum(nb.tanh(x) ** 3)

    transform, reference = nb.hessian(fun, replay=True), nb.hessian(fun)
    cache = replayer_of(transform).cache
    for n in range(1, 11):
        compare(transform, reference, [(rng.standard_normal(n),) for _ in range(3)])
        if n > cache.limit:
            assert "more than 8" in cache.reason
    assert len(cache.entries) == cache.limit == 8
    assert runs == ["replayed"] * 8
    compare(transform, reference, [(rng.standard_normal(2),)])  # an early shape still replays
    assert runs == ["replayed"] * 9


def test_copies_of_a_program_cache_start_empty(rng):
    _, loss, calls = problem("mlp_tanh_lse", np.float64, n_calls=2)
    transform = nb.value_and_grad(loss, replay=True)
    compare(transform, nb.value_and_grad(loss), calls)
    cache = replayer_of(transform).cache
    assert len(programs_of(transform)) == 1
    for copied in (copy.deepcopy(cache), pickle.loads(pickle.dumps(cache)),
                   copy.deepcopy(replayer_of(transform)).cache):
        assert copied.entries == {} and copied.reason is None and copied.limit == cache.limit
    assert len(programs_of(transform)) == 1  # the original keeps its program


def test_program_source_is_python(rng):
    _, loss, calls = problem("batch_norm_sigmoid_ce", np.float64, n_calls=2)
    transform = nb.hessian(loss, replay=True)
    compare(transform, nb.hessian(loss), calls)
    (program,) = programs_of(transform)
    assert "def replay(" in program.source
    compile(program.source, "<replayed hessian>", "exec")
    (function,) = ast.parse(program.source).body
    assert function.name == "replay"
    assert len(function.args.args) == program.n_inputs + 1  # the inputs and the seeds
    assert program.n_inputs == 3  # theta, X and the labels


# -- found in review -----------------------------------------------------------------------
def test_an_index_tuple_holding_the_labels_follows_them(runs, rng):
    X = rng.standard_normal((6, 3))

    def nll(w, X, y):
        logp = nb.ops.log_softmax(X @ nb.reshape(w, (3, 4)), axis=1)
        return -nb.mean(logp[np.arange(6), y])  # the labels inside a fancy index

    w, y0 = rng.standard_normal(12), rng.integers(0, 4, 6)
    calls = [(w, X, y0), (w, X, y0)] + [(rng.standard_normal(12), X, rng.integers(0, 4, 6))
                                        for _ in range(3)]
    for kind in ("value_and_grad", "hessian"):
        compare(make(kind, nll, replay=True), make(kind, nll), calls)
    assert "replayed" in runs


def test_a_boolean_mask_index_never_replays(runs):
    points = [np.array([1.0, -2.0, 3.0, -0.5])] * 2 + [np.array([-1.0, 2.0, 3.0, 0.5])] * 2

    def fun(w):
        return nb.mean(w[w > 0] ** 2)  # the count of positive entries is a value

    transform = nb.value_and_grad(fun, replay=True)
    compare(transform, nb.value_and_grad(fun), [(p,) for p in points])
    assert runs == [] and "boolean mask" in replayer_of(transform).cache.reason


def test_one_array_in_two_argument_places_keys_its_own_program(rng):
    def fun(w, a, b):
        return nb.sum((a @ w - b) ** 2)

    w = rng.standard_normal((3, 3))
    xs = [rng.standard_normal((5, 3)) for _ in range(5)]
    calls = [(w, xs[0], xs[0]), (w, xs[1], xs[1]), (w, xs[2], xs[3]), (w, xs[3], xs[4]),
             (w, xs[4], xs[2]), (w, xs[2], xs[2])]
    compare(nb.value_and_grad(fun, replay=True), nb.value_and_grad(fun), calls)


def test_a_transform_inside_a_recording_runs_eagerly(rng):
    fun = lambda x: nb.sum(nb.tanh(x) ** 2)  # noqa: E731
    transform, x = nb.value_and_grad(fun, replay=True), rng.standard_normal(3)
    with replay.recording():
        got = transform(x)
    assert_same(got, nb.value_and_grad(fun)(x))
    assert replayer_of(transform).cache.entries == {}
