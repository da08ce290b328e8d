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
