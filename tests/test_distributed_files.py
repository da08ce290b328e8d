"""Readers that turn files into dask arrays read block by block (threaded scheduler)."""

import numpy as np
import pytest

dask = pytest.importorskip("dask")

from nablanet.data import DataError  # noqa: E402
from nablanet.distributed import fit_newton, read_csv, read_npz_shards, read_parquet  # noqa: E402


@pytest.fixture
def table(rng):
    X = rng.normal(size=(900, 3))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=900) > 0).astype(int)
    return X, y


def test_npz_shards_one_block_per_shard(tmp_path, table):
    X, y = table
    for i, rows in enumerate(np.array_split(np.arange(900), 3)):
        np.savez(tmp_path / f"part-{i}.npz", X=X[rows], y=y[rows])
    Xd, yd = read_npz_shards(tmp_path / "part-*.npz")
    assert Xd.chunks == ((300, 300, 300), (3,)) and yd.chunks == ((300, 300, 300),)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(Xd.compute(), X)
        np.testing.assert_array_equal(yd.compute(), y)


def test_npz_shard_errors_name_the_file(tmp_path, table):
    X, y = table
    np.savez(tmp_path / "a.npz", X=X, y=y)
    np.savez(tmp_path / "b.npz", X=X[:, :2], y=y)
    with pytest.raises(DataError, match="every shard must have 3 features"):
        read_npz_shards([tmp_path / "a.npz", tmp_path / "b.npz"])
    with pytest.raises(DataError, match="must hold an array named 'labels'"):
        read_npz_shards(tmp_path / "a.npz", y_key="labels")
    with pytest.raises(DataError, match="no file matches"):
        read_npz_shards(tmp_path / "missing-*.npz")


def test_parquet_and_csv_give_the_same_fit(tmp_path, table):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, y = table
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=y)
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv", index=False)
    with dask.config.set(scheduler="threads"):
        fits = [fit_newton(*reader(path, "label"), multinomial=False, tol=1e-10)
                for reader, path in [(read_parquet, tmp_path / "t.parquet"),
                                     (read_csv, tmp_path / "t.csv")]]
    np.testing.assert_allclose(fits[0]["coef"], fits[1]["coef"], atol=1e-12)
    with pytest.raises(DataError, match="target column 'nope' not found"):
        read_csv(tmp_path / "t.csv", "nope")
