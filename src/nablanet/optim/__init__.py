"""Optimisers: first-order (GD as in the notes, SGD, Adam, AdamW), Newton for roots and minima,
Hessian-free (Gauss-Newton-CG).

Examples
--------
>>> import nablanet as nb
>>> from nablanet.optim import SGD
>>> w = nb.tensor([2.0], requires_grad=True)
>>> opt = SGD([w], lr=0.5)
>>> (w * w).sum().backward(); opt.step(); w.numpy()
array([0.])
"""

from nablanet.optim.first_order import GD, SGD, Adam, AdamW, Optimizer
from nablanet.optim.hessian_free import HessianFree, HessianFreeStep
from nablanet.optim.line_search import armijo_backtracking
from nablanet.optim.newton import NewtonResult, newton, newton_cg
from nablanet.optim.objectives import (
    LogisticObjective,
    SoftmaxObjective,
    gaussian_dropout_ridge,
    is_linearly_separable,
)
from nablanet.optim.roots import RootResult, measured_order, newton_root
from nablanet.optim.stopping import ConvergenceWarning, EarlyStopping, StoppingRule
from nablanet.optim.train_step import TrainStep

__all__ = [
    "GD", "SGD", "Adam", "AdamW", "ConvergenceWarning", "EarlyStopping", "HessianFree",
    "HessianFreeStep", "LogisticObjective",
    "NewtonResult", "Optimizer", "RootResult", "SoftmaxObjective", "StoppingRule",
    "TrainStep", "armijo_backtracking", "gaussian_dropout_ridge", "is_linearly_separable",
    "measured_order", "newton", "newton_cg", "newton_root",
]
