"""Estimators with the scikit-learn face (floor 4).

``LogisticRegression`` and ``SoftmaxRegression`` are fitted by Newton's method
with closed-form Hessians, ``MLPClassifier`` is the notes' network, and
``GaussianDropoutRegressor`` is claim C5's noisy linear regression.  Every one
saves to a portable file that :func:`load` reads back without executing code.
"""

from nablanet.models._base import DivergenceError
from nablanet.models._stats import RankDeficiencyWarning
from nablanet.models.gaussian_dropout import GaussianDropoutRegressor
from nablanet.models.io import ModelFileError, load
from nablanet.models.logistic import LogisticRegression
from nablanet.models.mlp import MLPClassifier
from nablanet.models.softmax import SoftmaxRegression

__all__ = [
    "DivergenceError", "GaussianDropoutRegressor", "LogisticRegression", "MLPClassifier",
    "ModelFileError", "RankDeficiencyWarning", "SoftmaxRegression", "load",
]
