"""The `Tensor`: a NumPy array that can remember how it was computed.

A tensor produced by a primitive while gradients are being recorded keeps the
primitive, its arguments and keyword parameters: that triple is the tape entry
the backward pass walks.  Operators (``+``, ``@``, indexing, ...) are attached
by :mod:`nablanet.ops` so that this floor does not import the one above it.
"""

from __future__ import annotations

import itertools
import weakref
from collections import deque

import numpy as np

from nablanet.autodiff import mode
from nablanet.autodiff.dtypes import get_default_dtype

#: One counter numbers recorded results (``_seq``) and in-place writes alike, so "written
#: after this result was recorded" is one comparison of two numbers.
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
        """A constant tensor around an ndarray (internal, no copy)."""
        out = cls.__new__(cls)
        out.data = array if type(array) is np.ndarray else np.asarray(array)
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
        return len(self.data)  # TypeError for 0-d, as NumPy

    def __iter__(self):
        # without it Python would iterate through __getitem__ and a 0-d tensor would look
        # empty; NumPy and PyTorch refuse
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __contains__(self, value):
        mode.observe_value(self)
        return bool((self.data == (value.data if isinstance(value, Tensor) else value)).any())

    def __format__(self, spec):
        if spec and self.data.ndim == 0:
            return format(self.item(), spec)  # f"{loss:.4f}", as PyTorch
        return super().__format__(spec)

    def numel(self):
        """Number of elements (PyTorch's name for :attr:`size`)."""
        return self.data.size

    def numpy(self):
        """The values as a NumPy array (shared, not copied): an explicit exit from the graph."""
        mode.observe_value(self)
        return self.data

    def detach(self):
        """A tensor sharing the values but cut from the graph."""
        return Tensor(self.data)

    # -- values read out as Python / NumPy values ----------------------------------------
    def item(self):
        """The single value of a one-element tensor as a Python scalar."""
        mode.observe_value(self)
        if self.data.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to Python scalars, got "
                f"shape {self.data.shape} ({self.data.size} elements)"
            )
        return self.data.item()

    def tolist(self):
        """The values as nested Python lists (a Python scalar for a 0-d tensor)."""
        mode.observe_value(self)
        return self.data.tolist()

    def __bool__(self):
        mode.observe_value(self)
        size = self.data.size
        if size == 1:
            return bool(self.data.item())
        if size == 0:
            # NumPy 2.2+ and PyTorch both refuse
            raise ValueError(
                "The truth value of an empty tensor is ambiguous. Use `t.size > 0` to check "
                "that a tensor is not empty."
            )
        raise ValueError(
            f"The truth value of a tensor with more than one element (shape "
            f"{self.data.shape}) is ambiguous. Use a.any() or a.all()"
        )

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __index__(self):
        mode.observe_value(self)
        if self.data.size != 1 or self.data.dtype.kind not in "biu" or self.data.dtype == bool:
            raise TypeError(
                "only integer tensors of a single element can be converted to an index, got "
                f"dtype {self.data.dtype} and shape {self.data.shape}"
            )
        return int(self.data.item())

    def _scalar(self, kind):
        mode.observe_value(self)
        if self.data.size != 1:
            raise TypeError(
                f"{kind}(): only one-element tensors can be converted to Python scalars, got "
                f"shape {self.data.shape}"
            )
        return self.data.item()

    def __array__(self, dtype=None, copy=None):
        mode.observe_value(self)
        if self.requires_grad:
            raise TypeError(
                "a tensor that requires grad cannot become a NumPy array: its gradient would "
                "be lost without a word. Use the nablanet op of the same name (nb.sum, "
                "nb.matmul, nb.exp, ...) to keep the graph, or tensor.detach() (or "
                ".numpy()) if the values alone are wanted."
            )
        data = self.data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ValueError(f"converting {data.dtype} to {np.dtype(dtype)} needs a copy")
            return data.astype(dtype)
        return data.copy() if copy else data

    # -- in-place writes and version counters --------------------------------------------
    @property
    def _version(self):
        """How many in-place writes the tensor's buffer has seen (shared by its views)."""
        writes = _writes_of(self.data)
        return 0 if writes is None else writes.version

    def _bump_version(self):
        """Record an in-place write into ``self.data`` (every writer in nablanet calls it)."""
        _record_write(self.data)

    def _set_data(self, array):
        """Replace the values by ``array`` (an ndarray), counted as an in-place write."""
        version = self._version
        self.data = array if type(array) is np.ndarray else np.asarray(array)
        _record_write(self.data, at_least=version)

    def _check_saved_versions(self):
        """Raise if a value this recorded result will hand its rule was written since.

        The rule of a recorded result reads its arguments' values and its own: all of
        them must still hold what they held when the result was recorded.  The backward
        pass calls this for every result recorded before the latest in-place write.
        """
        seq = self._seq
        args = self._args or ()
        for position, value in enumerate((self, *args)):
            if not isinstance(value, Tensor):
                continue
            writes = _writes_of(value.data)
            if writes is not None and writes.stamps and writes.stamps[-1] > seq:
                what = (f"the output of {self._prim.name!r}" if position == 0 else
                        f"argument {position - 1} of {self._prim.name!r}")
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: {what} (shape {value.data.shape}, "
                    f"{value.data.dtype}) is at version {writes.version}; expected version "
                    f"{writes.expected(seq)} instead. Run the forward pass again after the "
                    "change (e.g. after optimizer.step()), or clone the value before writing it."
                )

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


class _Writes:
    """The in-place writes of one buffer: a version count and the latest write numbers."""

    __slots__ = ("ref", "version", "stamps")

    #: write numbers kept per buffer: enough to name the expected version exactly
    KEPT = 32

    def __init__(self, ref):
        self.ref = ref
        self.version = 0
        self.stamps = deque(maxlen=self.KEPT)

    def expected(self, seq):
        """The version the buffer had when result number ``seq`` was recorded (as text)."""
        later = sum(1 for stamp in self.stamps if stamp > seq)
        if later == len(self.stamps) == self.KEPT:
            return f"{self.version - later} or lower"
        return str(self.version - later)


#: ``id(buffer owner) -> _Writes`` for every buffer nablanet has written in place.  A
#: view shares its owner's entry (as PyTorch's views share a version counter).
_WRITES = {}
_last_write = -1


def _owner(array):
    """The ndarray that owns the memory ``array`` views (``array`` itself if it owns it)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _writes_of(array):
    owner = _owner(array)
    writes = _WRITES.get(id(owner))
    if writes is None or writes.ref() is not owner:
        return None
    return writes


def _forget(ref, key):
    # the owner died: drop its entry (unless a newer owner already took the same id)
    writes = _WRITES.get(key)
    if writes is not None and writes.ref is ref:
        del _WRITES[key]


def _record_write(array, at_least=0):
    global _last_write
    owner = array if array.base is None else _owner(array)
    key = id(owner)
    writes = _WRITES.get(key)
    if writes is None or writes.ref() is not owner:
        writes = _WRITES[key] = _Writes(weakref.ref(owner, lambda ref, key=key: _forget(ref, key)))
    if at_least > writes.version:
        writes.version = at_least
    writes.version += 1
    _last_write = stamp = _next_seq()
    writes.stamps.append(stamp)


def last_write():
    """The number of the latest in-place write (-1 before any): the engine's fast test."""
    return _last_write


def tensor(data, requires_grad=False, dtype=None):
    """Create a :class:`Tensor` from array-like data.

    Parameters
    ----------
    data : array_like
        Values; copied.
    requires_grad : bool, default False
        Record operations on this tensor for differentiation.
    dtype : numpy dtype, optional
        Convert to this dtype first.  Without it, Python floats (and lists of them)
        take the default dtype (:func:`nablanet.set_default_dtype`, float64 unless
        set), as in PyTorch; NumPy arrays and scalars keep their own dtype.

    Returns
    -------
    Tensor
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None and not isinstance(data, np.ndarray | np.generic):
        array = np.array(data)
        if array.dtype.kind == "f":
            array = array.astype(get_default_dtype(), copy=False)
        return Tensor(array, requires_grad=requires_grad)
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
