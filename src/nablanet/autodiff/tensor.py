"""The `Tensor`: a NumPy array that can remember how it was computed.

A tensor produced by a primitive while gradients are being recorded keeps the
primitive, its arguments and keyword parameters: that triple is the tape entry
the backward pass walks.  Operators (``+``, ``@``, indexing, ...) are attached
by :mod:`nablanet.ops` so that this floor does not import the one above it.
"""

from __future__ import annotations

import itertools

import numpy as np

from nablanet.autodiff import mode

_next_seq = itertools.count().__next__


class Tensor:
    """An n-dimensional array with an optional gradient record.

    Parameters
    ----------
    data : array_like
        The values.  Float32 and float64 are kept as given; Python floats and
        lists of floats become float64.
    requires_grad : bool, default False
        Whether gradients with respect to this tensor are wanted.  Only
        floating-point tensors can require gradients.

    Examples
    --------
    >>> import nablanet as nb
    >>> x = nb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.numpy()
    array([2., 4., 6.])
    """

    __slots__ = (
        "data", "requires_grad", "grad", "_prim", "_args", "_kwargs", "_seq", "__weakref__"
    )
    # NumPy binary operators defer to the Tensor's reflected operators.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        self.data = data if type(data) is np.ndarray else np.asarray(data)
        self.grad = None
        self._prim = None
        self._args = None
        self._kwargs = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data, prim, args, kwargs):
        """A recorded result of ``prim(*args, **kwargs)`` (internal, no checks)."""
        out = cls.__new__(cls)
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.requires_grad = True
        out.grad = None
        out._prim = prim
        out._args = args
        out._kwargs = kwargs
        # creation order: a result is always numbered after its arguments, so the backward
        # pass can visit the graph in decreasing order without a separate sort
        out._seq = _next_seq()
        return out

    @classmethod
    def _wrap(cls, array):
        """A constant tensor around an ndarray (internal, no checks, no copy)."""
        out = cls.__new__(cls)
        out.data = array
        out.requires_grad = False
        out.grad = None
        out._prim = None
        out._args = None
        out._kwargs = None
        return out

    def requires_grad_(self, flag=True):
        """Set ``requires_grad`` in place; returns self."""
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(
                "only floating-point tensors can require gradients, got dtype "
                f"{self.data.dtype}; convert with .astype(float) first"
            )
        self.requires_grad = bool(flag)
        return self

    # -- array facts -------------------------------------------------------------
    @property
    def shape(self):
        """Tuple of dimensions."""
        return self.data.shape

    @property
    def dtype(self):
        """NumPy dtype of the values."""
        return self.data.dtype

    @property
    def ndim(self):
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self):
        """Number of elements."""
        return self.data.size

    @property
    def is_leaf(self):
        """True when the tensor was not produced by a recorded operation."""
        return self._prim is None

    def __len__(self):
        return len(self.data)

    def numpy(self):
        """The values as a NumPy array (shared, not copied)."""
        return self.data

    def item(self):
        """The single value of a one-element tensor as a Python scalar."""
        return self.data.item()

    def detach(self):
        """A tensor sharing the values but cut from the graph."""
        return Tensor(self.data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self):
        return float(self.data)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self._prim is not None:
            extra = f", grad_fn={self._prim.name}"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    def backward(self, gradient=None, create_graph=False, retain_graph=None):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires it.

        Parameters
        ----------
        gradient : array_like or Tensor, optional
            The cotangent to start from; required unless the tensor has one element.
        create_graph : bool, default False
            Record the backward pass itself so that ``.grad`` can be differentiated
            again (second derivatives).
        retain_graph : bool, optional
            Keep the graph for another backward pass; defaults to ``create_graph``.
        """
        from nablanet.autodiff.engine import backward_into_leaves

        backward_into_leaves(self, gradient, create_graph, retain_graph)


def tensor(data, requires_grad=False, dtype=None):
    """Create a :class:`Tensor` from array-like data.

    Parameters
    ----------
    data : array_like
        Values; copied.
    requires_grad : bool, default False
        Record operations on this tensor for differentiation.
    dtype : numpy dtype, optional
        Convert to this dtype first.

    Returns
    -------
    Tensor
    """
    if isinstance(data, Tensor):
        data = data.data
    return Tensor(np.array(data, dtype=dtype), requires_grad=requires_grad)


def raw(x):
    """The NumPy value behind ``x`` (a Tensor, array or scalar)."""
    return x.data if isinstance(x, Tensor) else x


def shape_of(x):
    """Shape of a Tensor, array or Python scalar."""
    kind = type(x)
    if kind is np.ndarray:
        return x.shape
    if kind is Tensor:
        return x.data.shape
    return x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)


def is_traced(x):
    """True for a Tensor whose operations are being recorded."""
    return isinstance(x, Tensor) and x.requires_grad and mode.is_grad_enabled()
