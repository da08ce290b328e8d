"""Data: bundled datasets by name, CSV / NPZ / IDX files, validation, splits, batches.

scikit-learn (for the bundled datasets) is imported only when one is loaded.
"""

from nablanet.data.batching import iterate_minibatches, train_test_split
from nablanet.data.datasets import BUNDLED, Dataset, load_dataset
from nablanet.data.files import read_csv, read_csv_features, read_idx, read_idx_pair, read_npz
from nablanet.data.validation import (
    DataError,
    check_finite,
    class_labels,
    validate_features,
    validate_labels,
    validate_n_features,
)

__all__ = [
    "BUNDLED", "DataError", "Dataset", "check_finite", "class_labels", "iterate_minibatches",
    "load_dataset",
    "read_csv", "read_csv_features", "read_idx", "read_idx_pair", "read_npz",
    "train_test_split", "validate_features", "validate_labels", "validate_n_features",
]
