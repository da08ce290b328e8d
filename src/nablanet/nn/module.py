"""``Module``, ``Parameter`` and ``Sequential``: PyTorch's face over nablanet's engine.

A module owns parameters (tensors that require grad), buffers (state such as
running statistics, not trained) and child modules, found by attribute
assignment.  Training mode is per module; randomness comes from a
``numpy.random.Generator`` the module is given, never from global state.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from nablanet.autodiff.tensor import Tensor


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
    requires_grad : bool, default True

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet.nn import Parameter
    >>> Parameter(np.zeros(2)).requires_grad
    True
    """

    def __init__(self, data, requires_grad=True):
        super().__init__(np.array(data.data if isinstance(data, Tensor) else data), requires_grad)

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

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _changed(self):
        # a setting or the structure changed: a replayed step records anew
        self.__dict__["_config_version"] = self._config_version + 1

    def register_buffer(self, name, value):
        """Register state that is saved in :meth:`state_dict` but not trained (or None)."""
        self._changed()
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
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

    # -- traversal ---------------------------------------------------------------------------
    def named_children(self):
        """Direct sub-modules as ``(name, module)`` pairs."""
        return iter(self._modules.items())

    def children(self):
        """Direct sub-modules."""
        return (m for _, m in self.named_children())

    def named_modules(self, prefix=""):
        """This module and every descendant, as ``(dotted name, module)``, each once."""
        seen, stack, out = set(), [(prefix, self)], []
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            out.append((name, module))
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed([c for c in children if c[1] is not None]))
        return iter(out)

    def modules(self):
        """This module and every descendant."""
        return (m for _, m in self.named_modules())

    def _named_entries(self, table):
        seen = set()
        for prefix, module in self.named_modules():
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self):
        """Every parameter as ``(dotted name, Parameter)``, shared ones once."""
        return self._named_entries("_parameters")

    def parameters(self):
        """Every parameter (the list an optimiser takes)."""
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        """Every buffer as ``(dotted name, Tensor)``."""
        return self._named_entries("_buffers")

    def buffers(self):
        """Every buffer."""
        return (b for _, b in self.named_buffers())

    # -- modes and gradients -------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode on this module and its descendants; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (dropout off, batch norm on running statistics); returns self."""
        return self.train(False)

    def zero_grad(self):
        """Forget the accumulated gradients of every parameter."""
        for p in self.parameters():
            p.grad = None

    def astype(self, dtype):
        """Convert floating parameters and buffers to ``dtype`` in place; returns self."""
        for value in list(self.parameters()) + list(self.buffers()):
            if value.data.dtype.kind == "f":
                value.data = value.data.astype(dtype)
        for module in self.modules():
            module._changed()
        return self

    # -- state ---------------------------------------------------------------------------------
    def state_dict(self):
        """Copies of every parameter and buffer, by dotted name.

        Returns
        -------
        OrderedDict of str -> ndarray
        """
        state = OrderedDict()
        for prefix, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, value in table.items():
                    if value is not None:
                        key = f"{prefix}.{name}" if prefix else name
                        state[key] = np.array(value.data, copy=True)
        return state

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
        entries = OrderedDict()
        for prefix, module in self.named_modules():
            for table in (module._parameters, module._buffers):
                for name, value in table.items():
                    if value is not None:
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


class Sequential(Module):
    """Modules applied one after another; children are named ``'0'``, ``'1'``, ...

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> net = nn.Sequential(nn.Linear(3, 2, generator=np.random.default_rng(0)), nn.ReLU())
    >>> net(np.ones((4, 3))).shape
    (4, 2)
    >>> net
    Sequential(
      (0): Linear(in_features=3, out_features=2, bias=True)
      (1): ReLU()
    )
    """

    replayable = True

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, got {type(module).__name__} at {i}")
            self._modules[str(i)] = module

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*items[index])
        return items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add a module at the end; returns self."""
        self._changed()
        self._modules[str(len(self._modules))] = module
        return self

    def forward(self, x):
        """Apply every module in order."""
        for module in self._modules.values():
            x = module.forward(x)  # what module(x) runs, without the extra call
        return x
