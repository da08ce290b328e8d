"""Whether operations are recorded: ``no_grad`` and ``enable_grad``.

The flag is thread-local, like PyTorch's grad mode: a second thread (a data
loader, a Dask worker) does not see another thread's ``no_grad``.
"""

from __future__ import annotations

import functools
import threading

_local = threading.local()


def is_grad_enabled():
    """True when operations on tensors that require grad are recorded."""
    return getattr(_local, "enabled", True)


def set_grad_enabled(flag):
    """Turn recording on or off for this thread; returns the previous setting."""
    previous = is_grad_enabled()
    _local.enabled = bool(flag)
    return previous


class _GradMode:
    _flag = True

    def __enter__(self):
        self._previous = set_grad_enabled(self._flag)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._previous)
        return False

    def __call__(self, fun):
        @functools.wraps(fun)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fun(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (and decorator) that stops recording operations.

    Examples
    --------
    >>> import nablanet as nb
    >>> x = nb.tensor([1.0], requires_grad=True)
    >>> with nb.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    _flag = False


class enable_grad(_GradMode):  # noqa: N801 - PyTorch's name
    """Context manager (and decorator) that turns recording back on."""

    _flag = True


class TracingScope:
    """Mark that a transform is evaluating its function (internal).

    A transform called while another one is tracing must record its own
    backward pass, since the outer one may differentiate through it even when
    its inputs are plain arrays (the result may depend on the outer variables
    through a closure).
    """

    def __enter__(self):
        _local.trace_depth = getattr(_local, "trace_depth", 0) + 1
        return self

    def __exit__(self, *exc):
        _local.trace_depth -= 1
        return False


def inside_trace():
    """True while some transform is evaluating its function on this thread."""
    return getattr(_local, "trace_depth", 0) > 0


# -- value observation ------------------------------------------------------------------
#: Callbacks by thread that want to hear when a tensor's value leaves the graph as a
#: Python or NumPy value (``bool``, ``float``, ``int``, ``item``, ``tolist``,
#: ``__array__``).  Empty almost always, so :func:`observe_value` costs one truth test.
_OBSERVERS = {}


def observe_value(tensor):
    """Tell this thread's observers that ``tensor``'s value is being read out.

    Called by :class:`~nablanet.autodiff.tensor.Tensor`'s conversions (``bool``,
    ``float``, ``int``, ``operator.index``, ``item``, ``tolist``, ``__array__``): a
    recording that wants to know when a traced value steers Python (a branch, a loop
    count) registers with :func:`observing`.
    """
    if _OBSERVERS:
        callbacks = _OBSERVERS.get(threading.get_ident())
        if callbacks:
            for callback in tuple(callbacks):
                callback(tensor)


class observing:  # noqa: N801 - a context manager, named like no_grad
    """Call ``callback(tensor)`` whenever this thread reads a tensor's value out.

    Parameters
    ----------
    callback : callable
        Called with the Tensor whose value is converted; observers nest, the inner
        ones first registered last, and all are called.

    Examples
    --------
    >>> import nablanet as nb
    >>> from nablanet.autodiff import mode
    >>> seen = []
    >>> x = nb.tensor([1.0, -2.0])
    >>> with mode.observing(seen.append):
    ...     positive = bool(x.sum() > 0)
    >>> positive, len(seen)
    (False, 1)
    """

    def __init__(self, callback):
        self.callback = callback

    def __enter__(self):
        _OBSERVERS.setdefault(threading.get_ident(), []).append(self.callback)
        return self

    def __exit__(self, *exc):
        key = threading.get_ident()
        callbacks = _OBSERVERS[key]
        callbacks.reverse()
        callbacks.remove(self.callback)  # the latest registration of this callback
        callbacks.reverse()
        if not callbacks:
            del _OBSERVERS[key]
        return False
