"""Layers with PyTorch's signatures and defaults (floor 3): ``Module``, ``Linear``, ...

Examples
--------
>>> import numpy as np
>>> from nablanet import nn
>>> net = nn.MLP(4, 8, 3, generator=np.random.default_rng(0))
>>> loss = nn.CrossEntropyLoss()(net(np.ones((2, 4))), np.array([0, 2]))
"""

from nablanet.nn import functional
from nablanet.nn.activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from nablanet.nn.dropout import Dropout, GaussianDropout
from nablanet.nn.linear import Linear
from nablanet.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from nablanet.nn.mlp import MLP
from nablanet.nn.module import Module, Parameter, Sequential
from nablanet.nn.normalization import BatchNorm1d

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout",
    "GaussianDropout", "LeakyReLU", "Linear", "LogSoftmax", "MLP", "MSELoss", "Module",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional",
]
