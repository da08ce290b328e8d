"""``Module``, ``Parameter`` and ``Sequential``: PyTorch's face over nablanet's engine.

A module owns parameters (tensors that require grad), buffers (state such as
running statistics, not trained) and child modules, found by attribute
assignment.  Training mode is per module; randomness comes from a
``numpy.random.Generator`` the module is given, never from global state.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from nablanet.autodiff.dtypes import get_default_dtype, resolve_dtype
from nablanet.autodiff.tensor import Tensor
from nablanet.nn._unregistered import check_tree


def check_dtype(layer, x, expected):
    """A layer's input in the parameters' dtype, or TypeError if an array has another.

    Lists and Python scalars carry no dtype: they are converted to ``expected``.

    Parameters
    ----------
    layer : str
        The layer's name, for the message.
    x : Tensor, ndarray or array_like
        The input.
    expected : numpy dtype
        The parameters' dtype.

    Returns
    -------
    Tensor or ndarray
        ``x`` itself, or a list or scalar converted to ``expected``.

    Examples
    --------
    >>> import numpy as np
    >>> check_dtype("Linear", [1, 2], np.dtype(np.float32)).dtype
    dtype('float32')
    """
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return np.asarray(x, dtype=expected)
    if dtype != expected:
        raise TypeError(
            f"{layer}: input has dtype {dtype} but the layer's parameters are {expected}; "
            f"cast the input (x.astype(np.{expected})) or build the layer with "
            f"dtype=np.{dtype} (NumPy would otherwise promote silently)"
        )
    return x


_MISSING = object()


class Parameter(Tensor):
    """A tensor that is a trainable parameter of a module (``requires_grad=True``).

    Parameters
    ----------
    data : array_like
        Copied.  NumPy arrays keep their dtype; Python floats (lists, scalars) take
        :func:`nablanet.get_default_dtype`, as ``torch.tensor`` does.
    requires_grad : bool, default True

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.nn import Parameter
    >>> Parameter(np.zeros(2)).requires_grad
    True
    """

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        array = np.array(data)
        if not isinstance(data, np.ndarray | np.generic) and array.dtype.kind == "f":
            array = array.astype(get_default_dtype(), copy=False)  # Python floats, as PyTorch
        super().__init__(array, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and networks.

    Assigning a :class:`Parameter`, a :class:`Module` or (with
    :meth:`register_buffer`) a buffer to an attribute registers it, so that
    :meth:`parameters`, :meth:`state_dict` and :meth:`train` find it.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.nn import Module, Parameter
    >>> class Scale(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.factor = Parameter(np.ones(1))
    ...     def forward(self, x):
    ...         return x * self.factor
    >>> [name for name, _ in Scale().named_parameters()]
    ['factor']
    """

    #: Whether :class:`nablanet.optim.TrainStep` may replay this module's recorded calls:
    #: True when everything its forward does that varies between batches (values, random
    #: draws, state updates) happens inside nablanet primitives, and no Python branch
    #: depends on values.  nablanet's own layers set it; a subclass sets it to opt in.
    replayable = False
    #: Counts assignments of attributes other than ``training`` that changed a value (a
    #: dropout probability, a generator, a layer): a replayed step records anew after one.
    _config_version = 0

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration ----------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__(); call super().__init__() first"
            )
        if name != "training" and getattr(self, name, _MISSING) is not value:
            self._changed()
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                self._changed()
                del table[name]
                return
        object.__delattr__(self, name)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _changed(self):
        # a setting or the structure changed: a replayed step records anew
        self.__dict__["_config_version"] = self._config_version + 1

    def register_buffer(self, name, value, persistent=True):
        """Register state that is not trained (or None); saved in :meth:`state_dict` unless
        ``persistent=False`` (PyTorch's: then it moves with ``.to()`` but is not saved)."""
        self._changed()
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        transient = self.__dict__.setdefault("_non_persistent", set())
        (transient.discard if persistent else transient.add)(name)
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(np.asarray(value))
        self.__dict__.pop(name, None)
        self._buffers[name] = value

    def register_parameter(self, name, value):
        """Register a :class:`Parameter` (or None, for an absent optional parameter)."""
        if value is not None and not isinstance(value, Parameter):
            raise TypeError(f"{name!r} must be a Parameter or None, got {type(value).__name__}")
        self._changed()
        self.__dict__.pop(name, None)
        self._parameters[name] = value

    def add_module(self, name, module):
        """Register ``module`` (or None) as the child ``name``, as attribute assignment does.

        Raises
        ------
        TypeError
            ``module`` is not a Module or None, or ``name`` is not a string.
        KeyError
            ``name`` is empty, contains a dot, or is an attribute that is not a child.
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, "
                            f"got {type(module).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"add_module: a module name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"add_module: a module name must be non-empty without '.', got {name!r}")
        if name not in self._modules and (name in self.__dict__ or hasattr(type(self), name)
                                          or name in self._parameters or name in self._buffers):
            raise KeyError(f"add_module: attribute {name!r} already exists")
        self._changed()
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The descendant at the dotted path ``target`` (``''``: this module).

        Raises
        ------
        AttributeError
            A step of the path names no child module.
        """
        module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(
                    f"{type(module).__name__} has no submodule {part!r} (in {target!r})"
                )
            module = child
        return module

    # -- traversal ---------------------------------------------------------------------------
    def named_children(self):
        """Direct sub-modules as ``(name, module)`` pairs."""
        return iter(self._modules.items())

    def children(self):
        """Direct sub-modules."""
        return (m for _, m in self.named_children())

    def named_modules(self, prefix=""):
        """This module and every descendant, as ``(dotted name, module)``, each once.

        Warns (:class:`UnregisteredModuleWarning`) when a plain list, tuple, dict or set
        attribute holds modules or parameters that no registered path reaches.
        """
        out = self._named_tree(prefix)
        check_tree([m for _, m in out])
        return iter(out)

    def _named_tree(self, prefix):
        seen, stack, out = set(), [(prefix, self)], []
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            out.append((name, module))
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed([c for c in children if c[1] is not None]))
        return out

    def modules(self):
        """This module and every descendant."""
        return (m for _, m in self.named_modules())

    def _named_entries(self, table, prefix="", recurse=True):
        seen = set()
        tree = self.named_modules(prefix) if recurse else [(prefix, self)]
        for prefix, module in tree:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        """Every parameter as ``(dotted name, Parameter)``, shared ones once.

        ``recurse=False``: this module's own parameters only.
        """
        return self._named_entries("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Every parameter (the list an optimiser takes)."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        """Every buffer as ``(dotted name, Tensor)``."""
        return self._named_entries("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """Every buffer."""
        return (b for _, b in self.named_buffers(recurse=recurse))

    # -- modes and gradients -------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this module and its descendants; returns self."""
        if not isinstance(mode, bool | np.bool_):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (dropout off, batch norm on running statistics); returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the accumulated gradients of every parameter.

        ``set_to_none=False`` writes zeros into the existing gradients instead.
        """
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor(np.zeros_like(p.grad.data))

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter (False freezes them); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant, children before parents; returns self.

        Examples
        --------
        >>> import numpy as np
        >>> from nablanet import nn
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        >>> def zero_bias(m):
        ...     if isinstance(m, nn.Linear):
        ...         m.bias.data[...] = 0
        >>> float(net.apply(zero_bias)[1].bias.data[0])
        0.0
        """
        for child in self.children():
            if child is not None:
                child.apply(fn)
        fn(self)
        return self

    def astype(self, dtype):
        """Convert floating parameters, their gradients and buffers to ``dtype`` in place.

        The Parameter objects stay the same (an optimiser built before keeps them).
        Returns self.
        """
        for value in list(self.parameters()) + list(self.buffers()):
            if value.data.dtype.kind == "f":
                value._set_data(value.data.astype(dtype))
            if value.grad is not None and value.grad.data.dtype.kind == "f":
                value.grad = Tensor(value.grad.data.astype(dtype))
        for module in self.modules():
            module._changed()
        return self

    def to(self, *args, dtype=None, device=None, non_blocking=False):
        """PyTorch's ``module.to(dtype)`` / ``to(device)`` / ``to(tensor)``; returns self.

        Parameters
        ----------
        *args : dtype, device or Tensor
            A floating dtype (``np.float32``, ``'float64'``), the device ``'cpu'``
            (the only one: nablanet computes with NumPy), or a tensor or array whose
            dtype to take.
        dtype : numpy dtype, optional
        device : str, optional
        non_blocking : bool
            Accepted for PyTorch's signature; nothing is asynchronous.

        Raises
        ------
        TypeError
            A dtype other than float32 or float64 (integer parameters cannot train).
        ValueError
            A device other than the CPU.

        Examples
        --------
        >>> import numpy as np
        >>> from nablanet import nn
        >>> nn.Linear(2, 1).to(np.float32).weight.dtype
        dtype('float32')
        """
        for arg in args:
            if isinstance(arg, Tensor | np.ndarray):
                dtype = arg.dtype
            elif _is_device(arg):
                device = arg
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(
                f"to: nablanet computes on the CPU with NumPy; got device {device!r}"
            )
        if dtype is None:
            return self
        return self.astype(resolve_dtype(dtype, "Module.to"))

    def float(self):
        """Parameters and buffers to float32 (``to(np.float32)``); returns self."""
        return self.to(np.float32)

    def double(self):
        """Parameters and buffers to float64 (``to(np.float64)``); returns self."""
        return self.to(np.float64)

    def cpu(self):
        """Returns self: every array already lives in main memory."""
        return self

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self):
        """Copies of every parameter and buffer, by dotted name.

        Returns
        -------
        OrderedDict of str -> ndarray
        """
        return OrderedDict(
            (key, np.array(value.data, copy=True)) for key, value in self._state_entries().items()
        )

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        Parameters
        ----------
        state_dict : mapping of str -> array_like
        strict : bool, default True
            Require exactly the module's keys.

        Raises
        ------
        KeyError
            Missing or unexpected keys (``strict``).
        ValueError
            A value whose shape differs from the module's.
        """
        own = self._state_entries()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
            )
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = np.asarray(getattr(state_dict[key], "data", state_dict[key]))
            if value.shape != target.data.shape:
                raise ValueError(
                    f"load_state_dict: {key!r} has shape {target.data.shape} in the module, "
                    f"got {value.shape}"
                )
        for key, target in own.items():
            if key in state_dict:
                value = np.asarray(getattr(state_dict[key], "data", state_dict[key]))
                target._set_data(value.astype(target.data.dtype, copy=True))  # bumps _version

    def _state_entries(self):
        # parameters, then persistent buffers, of each module in traversal order
        entries = OrderedDict()
        for prefix, module in self.named_modules():
            transient = module.__dict__.get("_non_persistent", ())
            for table in (module._parameters, module._buffers):
                for name, value in table.items():
                    if value is not None and not (table is module._buffers
                                                  and name in transient):
                        entries[f"{prefix}.{name}" if prefix else name] = value
        return entries

    # -- calling and printing ------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        """The computation; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self):
        """Arguments shown inside the parentheses of the repr."""
        return ""

    def __repr__(self):
        lines = [f"({name}): " + _indent(repr(m)) for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _indent(text):
    return text.replace("\n", "\n  ")


def _is_device(value):
    """True for a device: a ``torch.device`` or a string that names no dtype ('cpu')."""
    if not isinstance(value, str):
        return getattr(type(value), "__name__", "") == "device"
    try:
        np.dtype(value)
    except TypeError:
        return True
    return False
