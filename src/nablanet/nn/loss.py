"""Loss layers: PyTorch's signatures over :mod:`nablanet.ops.losses`."""

from __future__ import annotations

from nablanet.nn.module import Module
from nablanet.ops import losses, losses_extra


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        losses._check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits against class indices or probabilities.

    Gradient in the logits ``softmax(z) - y`` (claims C3, C7).

    Parameters
    ----------
    weight : array_like, optional
        One weight per class.
    ignore_index : int, default -100
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    label_smoothing : float, default 0.0

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.CrossEntropyLoss()(np.zeros((2, 4)), np.array([0, 3])))  # log 4
    1.3862943611198906
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    @property
    def replayable(self):
        """Class weights and label smoothing build targets outside primitives."""
        return self.weight is None and not self.label_smoothing

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of logits ``input`` (N, C) against ``target``."""
        return losses.cross_entropy(
            input, target, self.reduction, self.weight, self.label_smoothing, self.ignore_index
        )


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy from logits, ``softplus(z) - y z`` (claim C1), stable.

    Parameters
    ----------
    weight : array_like, optional
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    pos_weight : array_like, optional

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.BCEWithLogitsLoss(reduction='sum')(np.array([-1e4]), np.array([1.0])))
    10000.0
    """

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    @property
    def replayable(self):
        """``pos_weight`` mixes the targets outside primitives."""
        return self.pos_weight is None

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of logits ``input`` against ``target`` in [0, 1]."""
        return losses.binary_cross_entropy_with_logits(
            input, target, self.reduction, self.weight, self.pos_weight
        )


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (each log clamped at -100, as PyTorch).

    Parameters
    ----------
    weight : array_like, optional
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.BCELoss()(np.array([0.5]), np.array([1.0])))
    0.6931471805599453
    """

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of probabilities ``input`` against ``target``."""
        return losses.binary_cross_entropy(input, target, self.reduction, self.weight)


class MSELoss(_Loss):
    """Mean squared error.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.MSELoss()(np.array([1.0, 3.0]), np.zeros(2)))
    5.0
    """

    replayable = True

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of ``input`` against ``target``."""
        return losses.mse_loss(input, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities against class indices (PyTorch's).

    Pair it with ``LogSoftmax(dim=1)``; ``CrossEntropyLoss`` is the two fused.

    Parameters
    ----------
    weight : array_like, optional
        One weight per class.
    ignore_index : int, default -100
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.NLLLoss()(np.log(np.array([[0.5, 0.5]])), np.array([0])))  # log 2
    0.6931471805599453
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight
        self.ignore_index = ignore_index

    @property
    def replayable(self):
        """Class weights are gathered by label outside primitives."""
        return self.weight is None

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of log-probabilities ``input`` (N, C) against ``target`` (N,)."""
        return losses_extra.nll_loss(input, target, self.weight, self.ignore_index,
                                     self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|`` (PyTorch's ``L1Loss``).

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}, default 'mean'

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.L1Loss()(np.array([1.0, -3.0]), np.zeros(2)))
    2.0
    """

    replayable = True

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of ``input`` against ``target`` (same shape)."""
        return losses_extra.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Huber loss, quadratic within ``delta`` of the target and linear beyond (PyTorch's).

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    delta : float, default 1.0

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.HuberLoss()(np.array([0.5, 3.0]), np.zeros(2)))
    1.3125
    """

    replayable = True

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = float(delta)

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of ``input`` against ``target`` (same shape)."""
        return losses_extra.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """Smooth L1: ``HuberLoss(delta=beta) / beta`` (PyTorch's; ``beta=0`` is ``L1Loss``).

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}, default 'mean'
    beta : float, default 1.0

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> float(nn.SmoothL1Loss(beta=2.0)(np.array([1.0]), np.zeros(1)))
    0.25
    """

    replayable = True

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = float(beta)

    def forward(self, input, target):  # noqa: A002 - PyTorch's argument name
        """Loss of ``input`` against ``target`` (same shape)."""
        return losses_extra.smooth_l1_loss(input, target, self.reduction, self.beta)
