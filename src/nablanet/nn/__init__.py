"""Layers with PyTorch's signatures and defaults (floor 3): ``Module``, ``Linear``, ...

Examples
--------
>>> import numpy as np
>>> from nablanet import nn
>>> net = nn.MLP(4, 8, 3, generator=np.random.default_rng(0))
>>> loss = nn.CrossEntropyLoss()(net(np.ones((2, 4))), np.array([0, 2]))
"""

from nablanet.nn import functional, init, utils
from nablanet.nn._unregistered import UnregisteredModuleWarning
from nablanet.nn.activation import (
    ELU,
    GELU,
    SELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
)
from nablanet.nn.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from nablanet.nn.dropout import Dropout, GaussianDropout
from nablanet.nn.embedding import Embedding
from nablanet.nn.flatten import Flatten, Unflatten
from nablanet.nn.linear import Identity, Linear
from nablanet.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from nablanet.nn.mlp import MLP
from nablanet.nn.module import Module, Parameter
from nablanet.nn.normalization import BatchNorm1d, LayerNorm

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout",
    "GaussianDropout", "LeakyReLU", "Linear", "LogSoftmax", "MLP", "MSELoss", "Module",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional",
]
# issue 17: PyTorch's everyday face
__all__ += [
    "ELU", "Embedding", "Flatten", "GELU", "HuberLoss", "Identity", "L1Loss", "LayerNorm",
    "ModuleDict", "ModuleList", "NLLLoss", "ParameterDict", "ParameterList", "SELU", "SiLU",
    "SmoothL1Loss", "Unflatten", "UnregisteredModuleWarning", "init", "utils",
]
