"""The library respects the caller's thread settings: it never changes a BLAS pool's size."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import nablanet as nb
from nablanet import nn
from nablanet.optim import SGD


def _pool_sizes():
    # (threadpoolctl limits only the libraries loaded when the limit is set: the tests run
    # the work once first, so that SciPy's own OpenBLAS and scikit-learn's OpenMP, which
    # the estimators import lazily, are loaded)
    return sorted((pool["internal_api"], pool["filepath"], pool["num_threads"])
                  for pool in threadpool_info())


def _work():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = (X[:, 0] + 0.5 * rng.standard_normal(200) > 0).astype(int)
    nb.LogisticRegression().fit(X, y)
    nb.SoftmaxRegression().fit(X, np.digitize(X[:, 1], [-0.5, 0.5]))
    net = nn.MLP(5, 8, 2, batch_norm=True, generator=rng, dtype=np.float32)
    opt = SGD(net.parameters(), lr=0.1, momentum=0.9)
    loss = nn.CrossEntropyLoss()(net(X.astype(np.float32)), y)
    loss.backward()
    opt.step()
    nb.hessian(lambda w: nb.sum(nb.tanh(X @ w) ** 2))(np.ones(5))


@pytest.mark.skipif(not threadpool_info(), reason="no BLAS pool visible to threadpoolctl")
def test_a_callers_thread_limit_holds_through_fits_training_and_hessians():
    _work()
    before = _pool_sizes()
    with threadpool_limits(1):
        limited = _pool_sizes()
        _work()
        assert _pool_sizes() == limited
        assert all(size == 1 for *_, size in limited)
    assert _pool_sizes() == before


@pytest.mark.skipif(not threadpool_info(), reason="no BLAS pool visible to threadpoolctl")
def test_without_a_limit_the_pools_keep_their_size():
    _work()
    before = _pool_sizes()
    _work()
    assert _pool_sizes() == before
