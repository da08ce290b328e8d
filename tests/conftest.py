"""Shared test helpers."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator: tests never touch global random state."""
    return np.random.default_rng(0)


def torch_or_skip():
    """Import torch (float64 by default in tests that use it) or skip the test."""
    torch = pytest.importorskip("torch")
    return torch
