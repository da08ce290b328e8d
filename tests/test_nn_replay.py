"""The issue-17 layers marked ``replayable`` really replay: ``TrainStep`` against the eager
twin, bit for bit after every step (see tests/test_train_step.py's ``Twins``)."""

import numpy as np
import pytest

from nablanet import nn
from test_train_step import N_IN, N_OUT, ROWS, Twins, class_batches, sandwich, sgd

MIDDLES = {
    "gelu": nn.GELU,
    "gelu-tanh": lambda: nn.GELU("tanh"),
    "elu": lambda: nn.ELU(0.5),
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "layer-norm": lambda: nn.LayerNorm(12),
    "layer-norm-no-affine": lambda: nn.LayerNorm(12, elementwise_affine=False),
    "identity": nn.Identity,
    "softmax": lambda: nn.Softmax(dim=-1),
    "unflatten-flatten": lambda: nn.Sequential(nn.Unflatten(1, (3, 4)), nn.Flatten()),
}


@pytest.mark.parametrize("name", sorted(MIDDLES))
def test_new_layers_replay_bit_identically(name):
    twins = Twins(sandwich(3, 12, MIDDLES[name]), nn.CrossEntropyLoss, sgd())
    twins.run(class_batches(6))
    assert twins.step.reason is None
    assert twins.step.replayed_steps == 4


class Blocks(nn.Module):
    """A user network over a ModuleList and a ModuleDict (opted in to replay)."""

    replayable = True

    def __init__(self, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(N_IN, N_IN, generator=rng), nn.GELU()) for _ in range(2))
        self.heads = nn.ModuleDict({"out": nn.Linear(N_IN, N_OUT, generator=rng)})

    def forward(self, x):
        for block in self.blocks:
            x = x + block(x)
        return self.heads["out"](x)


def test_containers_replay_and_a_new_block_is_seen():
    twins = Twins(lambda: Blocks(4), nn.CrossEntropyLoss, sgd())
    batches = class_batches(9)
    twins.run(batches[:4])
    assert twins.step.replayed_steps == 2
    twins.both(lambda m: m.blocks.append(nn.Sequential(
        nn.Linear(N_IN, N_IN, generator=np.random.default_rng(5)), nn.ELU())))
    twins.run(batches[4:])  # records anew with the third block, then replays
    assert twins.step.replayed_steps == 5
    assert len(list(twins.net.parameters())) == 8


def test_three_dimensional_batches_through_linear_flatten_layer_norm():
    def build():
        rng = np.random.default_rng(6)
        return nn.Sequential(nn.Linear(4, 6, generator=rng), nn.LayerNorm(6), nn.GELU(),
                             nn.Flatten(), nn.Linear(18, N_OUT, generator=rng))

    rng = np.random.default_rng(7)
    batches = [(rng.standard_normal((ROWS, 3, 4)), rng.integers(0, N_OUT, ROWS))
               for _ in range(6)]
    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(batches)
    assert twins.step.replayed_steps == 4


def test_float32_network_after_float_replays():
    def build():
        return nn.Sequential(nn.Linear(N_IN, 12, generator=np.random.default_rng(8)),
                             nn.SiLU(), nn.Linear(12, N_OUT, generator=np.random.default_rng(9))
                             ).float()

    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(class_batches(5, dtype=np.float32))
    assert twins.step.replayed_steps == 3
    assert twins.losses[-1].dtype == np.float32


def test_log_softmax_with_nll_loss_and_l1_loss_replay():
    build = sandwich(10, 8, nn.Tanh, lambda: nn.LogSoftmax(dim=1))
    twins = Twins(build, nn.NLLLoss, sgd()).run(class_batches(6))
    assert twins.step.replayed_steps == 4
    rng = np.random.default_rng(11)
    batches = [(rng.standard_normal((ROWS, N_IN)), rng.standard_normal((ROWS, N_OUT)))
               for _ in range(6)]
    twins = Twins(sandwich(12, 8, nn.ELU), nn.L1Loss, sgd(lr=0.01)).run(batches)
    assert twins.step.replayed_steps == 4


def test_weighted_nll_loss_runs_eagerly_with_a_reason():
    weight = np.linspace(0.5, 1.5, N_OUT)
    build = sandwich(13, 8, nn.Tanh, lambda: nn.LogSoftmax(dim=1))
    twins = Twins(build, lambda: nn.NLLLoss(weight=weight), sgd()).run(class_batches(4))
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (4, 0)
    assert "NLLLoss" in twins.step.reason


def test_embedding_runs_eagerly_with_a_reason():
    def build():
        rng = np.random.default_rng(14)
        return nn.Sequential(nn.Embedding(7, 4, padding_idx=0, generator=rng), nn.Flatten(),
                             nn.Linear(12, N_OUT, generator=rng))

    rng = np.random.default_rng(15)
    batches = [(rng.integers(0, 7, (ROWS, 3)), rng.integers(0, N_OUT, ROWS)) for _ in range(4)]
    twins = Twins(build, nn.CrossEntropyLoss, sgd()).run(batches)
    assert (twins.step.eager_steps, twins.step.replayed_steps) == (4, 0)
    assert "Embedding" in twins.step.reason


@pytest.mark.parametrize("loss", [lambda: nn.HuberLoss(delta=0.5), nn.SmoothL1Loss],
                         ids=["huber", "smooth-l1"])
def test_huber_losses_replay(loss):
    rng = np.random.default_rng(16)
    batches = [(rng.standard_normal((ROWS, N_IN)), rng.standard_normal((ROWS, N_OUT)))
               for _ in range(6)]
    twins = Twins(sandwich(17, 8, nn.GELU), loss, sgd(lr=0.01)).run(batches)
    assert twins.step.replayed_steps == 4
