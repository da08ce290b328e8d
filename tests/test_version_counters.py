"""Version counters: a value saved for backward and changed in place makes backward refuse."""

import numpy as np
import pytest

import nablanet as nb
from conftest import torch_or_skip
from nablanet import nn, optim
from nablanet.autodiff import engine
from nablanet.autodiff.tensor import Tensor

MODIFIED = "modified by an inplace operation"


def _param(values=(1.0, 2.0)):
    return nb.tensor(list(values), requires_grad=True)


def test_each_in_place_method_bumps_the_version_as_torch_counts():
    torch = torch_or_skip()
    a, t = nb.tensor(np.zeros(3)), torch.zeros(3, dtype=torch.float64)
    assert a._version == t._version == 0
    steps = [
        (lambda x: x.add_(1), lambda x: x.add_(1)),
        (lambda x: x.mul_(2), lambda x: x.mul_(2)),
        (lambda x: x.sub_(1), lambda x: x.sub_(1)),
        (lambda x: x.div_(2), lambda x: x.div_(2)),
        (lambda x: x.__setitem__(0, 5.0), lambda x: x.__setitem__(0, 5.0)),
        (lambda x: x.__setitem__(x > 2, 0.5), lambda x: x.__setitem__(x > 2, 0.5)),
        (lambda x: x.clamp_(0, 1), lambda x: x.clamp_(0, 1)),
        (lambda x: x.fill_(3.0), lambda x: x.fill_(3.0)),
        (lambda x: x.copy_(np.arange(3.0)), lambda x: x.copy_(torch.arange(3.0))),
        (lambda x: x.zero_(), lambda x: x.zero_()),
    ]
    for ours, theirs in steps:
        ours(a)
        theirs(t)
        np.testing.assert_allclose(a.numpy(), t.numpy())
        assert a._version == t._version


def test_views_share_the_version_of_their_buffer():
    torch = torch_or_skip()
    w = _param()
    with nb.no_grad():
        wt = w.reshape(2, 1)
        w.mul_(3.0)
    tw = torch.tensor([1.0, 2.0])
    twt = tw.view(2, 1)
    tw.mul_(3.0)
    assert w._version == wt._version == tw._version == twt._version == 1


@pytest.mark.parametrize("make", [
    lambda ps: optim.GD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.AdamW(ps, lr=0.1),
])
def test_optimiser_step_between_forward_and_backward_refuses_as_torch(make):
    torch = torch_or_skip()
    w = _param()
    opt = make([w])
    (w * w).sum().backward()
    loss = (w * w).sum()  # records w at version 0
    opt.step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match=f"{MODIFIED}.*is at version 1; expected version 0"):
        loss.backward()
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    tw.grad = torch.ones(2)
    tloss = (tw * tw).sum()
    torch.optim.SGD([tw], lr=0.1).step()
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0"):
        tloss.backward()


def test_a_training_loop_never_refuses_and_matches_the_values_it_should(rng):
    w0 = rng.standard_normal(3)
    w = nb.tensor(w0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    expected = w0.copy()
    for _ in range(5):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        expected -= 0.1 * 2 * expected
    np.testing.assert_allclose(w.numpy(), expected)
    assert w._version == 5


def test_expected_version_is_exact_after_several_writes():
    w = _param()
    loss = (w * w).sum()
    with nb.no_grad():
        for _ in range(3):
            w.add_(1.0)
    with pytest.raises(RuntimeError, match="is at version 3; expected version 0"):
        loss.backward()


def test_saved_output_written_through_a_view_refuses_as_torch():
    torch = torch_or_skip()
    x = _param()
    y = x.exp()  # exp's rule reads its output
    with nb.no_grad():
        y.view(-1).mul_(2.0)
    with pytest.raises(RuntimeError, match=f"{MODIFIED}: the output of 'exp'"):
        y.backward(np.ones(2))
    tx = torch.tensor([1.0, 2.0], requires_grad=True)
    ty = tx.exp()
    tloss = ty.sum()
    with torch.no_grad():
        ty.view(-1).mul_(2.0)
    with pytest.raises(RuntimeError, match="output 0 of Exp"):
        tloss.backward()


def test_write_into_the_buffer_behind_a_saved_view_refuses():
    w = _param((1.0, 2.0, 3.0, 4.0))
    x = nb.tensor(np.ones((3, 2)))
    loss = (x @ w.reshape(2, 2).T).sum()  # the matmul saves a view of w's buffer
    with nb.no_grad():
        w.mul_(10.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


@pytest.mark.parametrize("write", [
    lambda t: t.copy_(np.zeros(2)),
    lambda t: t.zero_(),
    lambda t: t.fill_(1.0),
    lambda t: t.__setitem__(0, 7.0),
    lambda t: np.multiply(t, 2.0, out=t),
    lambda t: np.copyto(t, np.ones(2)),
])
def test_writes_into_a_saved_constant_refuse(write):
    x = nb.tensor([3.0, 4.0])  # a constant the product saves
    w = _param()
    loss = (x * w).sum()
    write(x)
    assert x._version == 1
    with pytest.raises(RuntimeError, match="argument 0 of 'multiply'.*version 1"):
        loss.backward()


def test_load_state_dict_between_forward_and_backward_refuses():
    net = nn.Linear(2, 1, generator=np.random.default_rng(0))
    state = {k: v * 2 for k, v in net.state_dict().items()}
    x = nb.tensor(np.ones((4, 2)))
    loss = net(x).sum()
    version = net.weight._version
    net.load_state_dict(state)
    assert net.weight._version == version + 1
    np.testing.assert_array_equal(net.weight.numpy(), state["weight"])
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()
    net(x).sum().backward()  # a fresh forward is fine
    assert net.weight.grad is not None


def test_second_backward_of_a_retained_graph_after_a_step_refuses():
    w = _param()
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_higher_order_and_transform_pullbacks_check_too():
    w = _param()
    loss = (w * w * w).sum()
    with nb.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward(create_graph=True)
    x = nb.tensor([1.0, 2.0])
    _, pullback = nb.vjp(lambda v: v * x, np.array([1.0, 1.0]))
    x.mul_(2.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        pullback(np.ones(2))


def test_writes_elsewhere_or_before_the_forward_are_no_refusal():
    w, other = _param(), _param((5.0, 6.0))
    with nb.no_grad():
        w.mul_(2.0)  # before the forward
    loss = (w * w).sum()
    with nb.no_grad():
        other.mul_(2.0)  # not in this graph
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 8.0])


def test_the_engine_checks_only_results_recorded_before_the_latest_write(monkeypatch):
    calls = []
    check = Tensor._check_saved_versions
    monkeypatch.setattr(Tensor, "_check_saved_versions", lambda self: calls.append(self) or
                        check(self))
    w = _param()
    with nb.no_grad():
        w.add_(1.0)
    ((w * w).sum() * 2.0).backward()
    assert calls == []  # recorded after the write: nothing to check
    y = (w * 3.0).sum()
    nb.tensor([1.0]).add_(1.0)  # an unrelated write
    y.backward()
    assert len(calls) == 2  # both results of y's graph checked, and passed


def test_in_place_on_recorded_tensors_is_refused_as_torch():
    torch = torch_or_skip()
    w = _param()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        torch.tensor([1.0], requires_grad=True).add_(1.0)
    y = w * 2.0
    with pytest.raises(RuntimeError, match="does not record in-place"):
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="does not record in-place"):
        nb.tensor([1.0, 2.0])[0] = w[0]  # the value requires grad
    with pytest.raises(RuntimeError, match="does not record in-place"):
        nb.tensor([1.0, 2.0]).copy_(w)
    assert w._version == 0


def test_zero_grad_in_place_bumps_the_gradient_version():
    w = _param()
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad and grad._version == 1
    np.testing.assert_array_equal(grad.numpy(), 0.0)


def test_replayed_and_eager_training_steps_bump_the_parameters():
    rng = np.random.default_rng(0)
    net = nn.MLP(4, 5, 3, generator=rng)
    opt = optim.SGD(net.parameters(), lr=0.1)
    step = optim.TrainStep(net, nn.CrossEntropyLoss(), opt)
    x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    loss = nn.CrossEntropyLoss()(net(x), y)  # recorded before the steps
    for n in range(1, 5):
        step(x, y)
        assert all(p._version == n for p in net.parameters())
    assert step.replayed_steps >= 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_in_place_writes_refuse_inside_a_recording():
    from nablanet.autodiff.replay import recording

    t = nb.tensor([1.0, 2.0])
    with recording(), pytest.raises(RuntimeError, match="not part of a recorded"):
        t.zero_()


def test_data_replacement_counts_as_a_write():
    w = _param()
    loss = (w * w).sum()
    w._set_data(np.array([9.0, 9.0]))
    assert w._version == 1
    with pytest.raises(RuntimeError, match="version 1; expected version 0"):
        loss.backward()


def test_the_check_is_one_function_called_from_the_backward_loop():
    import inspect

    source = inspect.getsource(engine)
    assert source.count("_check_saved_versions()") == 1
