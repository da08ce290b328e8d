"""Containers with PyTorch's behaviour: ``Sequential``, ``ModuleList``, ``ModuleDict``,
``ParameterList`` and ``ParameterDict``.

A container registers what it holds, so the parameters of the modules in a
``ModuleList`` are found by ``parameters()``, saved by ``state_dict()`` under
``'<attribute>.<index>.<name>'`` (PyTorch's keys) and switched by ``train()/eval()``.
Every change of structure bumps the container's version, so a replayed training
step (:class:`nablanet.optim.TrainStep`) records anew after it.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from nablanet.autodiff.tensor import Tensor
from nablanet.nn.module import Module, Parameter


def _checked_module(owner, module, where):
    if not isinstance(module, Module):
        raise TypeError(f"{owner} takes Modules, got {type(module).__name__} {where}")
    return module


def _position(index, length, owner, insert=False):
    """``index`` as a non-negative position, with Python's negative indexing."""
    i = operator.index(index)
    if insert:
        return max(0, min(length, i + length if i < 0 else i))
    if not -length <= i < length:
        raise IndexError(f"{owner}: index {i} is out of range for length {length}")
    return i + length if i < 0 else i


class _Indexed(Module):
    """The list behaviour of Sequential and ModuleList: children named '0', '1', ..."""

    replayable = True

    def _renumber(self, modules):
        # every module checked before any is replaced: a refused one changes nothing
        checked = [_checked_module(type(self).__name__, m, f"at {i}") for i, m in
                   enumerate(modules)]
        self._changed()
        self._modules.clear()
        self._modules.update((str(i), m) for i, m in enumerate(checked))

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])  # Sequential overrides this
        return items[_position(index, len(items), type(self).__name__)]

    def __setitem__(self, index, module):
        keys = list(self._modules)
        key = keys[_position(index, len(keys), type(self).__name__)]
        self._changed()
        self._modules[key] = _checked_module(type(self).__name__, module, f"at {index}")

    def __delitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[_position(index, len(items), type(self).__name__)]
        self._renumber(items)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add a module at the end, named ``str(len(self))`` (other names kept); returns self."""
        self._changed()
        name = str(len(self._modules))
        self._modules[name] = _checked_module(type(self).__name__, module, f"at {name}")
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (children renumbered); returns self."""
        items = list(self._modules.values())
        items.insert(_position(index, len(items), type(self).__name__, insert=True), module)
        self._renumber(items)
        return self

    def extend(self, modules):
        """Append every module of ``modules``; returns self."""
        for module in modules:
            self.append(module)
        return self

    def pop(self, index=-1):
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module

    def __iadd__(self, modules):
        return self.extend(modules)


class Sequential(_Indexed):
    """Modules applied one after another; children are named ``'0'``, ``'1'``, ...

    Also takes one ``OrderedDict`` of named modules, as PyTorch does.  Indexing,
    slicing (a new Sequential of the same modules), ``len``, ``append``, ``insert``,
    ``extend``, ``pop`` and item assignment and deletion behave as on a list.

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

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, _checked_module("Sequential", module, f"at {name!r}"))
            return
        for i, module in enumerate(modules):
            self._modules[str(i)] = _checked_module("Sequential", module, f"at {i}")

    def __getitem__(self, index):
        if isinstance(index, slice):  # the same names, as PyTorch
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def forward(self, x):
        """Apply every module in order."""
        for module in self._modules.values():
            x = module.forward(x)  # what module(x) runs, without the extra call
        return x


class ModuleList(_Indexed):
    """A list of modules whose parameters are registered (PyTorch's ``nn.ModuleList``).

    A plain Python list of layers registers nothing; hold them in a ModuleList.  It has
    no ``forward``: the module that owns it says how its layers are applied.

    Parameters
    ----------
    modules : iterable of Module, optional

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> class Stack(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layers = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    ...     def forward(self, x):
    ...         for layer in self.layers:
    ...             x = layer(x)
    ...         return x
    >>> [name for name, _ in Stack().named_parameters()][:2]
    ['layers.0.weight', 'layers.0.bias']
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __add__(self, other):
        return ModuleList([*self, *other])


class ModuleDict(Module):
    """A dict of modules whose parameters are registered (PyTorch's ``nn.ModuleDict``).

    Keeps insertion order; keys are strings without dots.

    Parameters
    ----------
    modules : mapping or iterable of (str, Module) pairs, optional

    Examples
    --------
    >>> from nablanet import nn
    >>> heads = nn.ModuleDict({"mean": nn.Linear(4, 1), "scale": nn.Linear(4, 1)})
    >>> list(heads), len(list(heads.parameters()))
    (['mean', 'scale'], 4)
    """

    replayable = True

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key, module):
        _checked_module("ModuleDict", module, f"for key {key!r}")
        self.add_module(key, module)

    def __delitem__(self, key):
        self[key]  # noqa: B018 - the KeyError naming the keys
        self._changed()
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        """The keys, in insertion order."""
        return self._modules.keys()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self):
        """``(key, module)`` pairs, in insertion order."""
        return self._modules.items()

    def pop(self, key):
        """Remove and return the module at ``key``."""
        module = self[key]
        del self[key]
        return module

    def clear(self):
        """Remove every module."""
        self._changed()
        self._modules.clear()

    def update(self, modules):
        """Add or replace modules from a mapping or an iterable of ``(key, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for j, pair in enumerate(pairs):
            if isinstance(pair, Module) or len(pair) != 2:
                raise TypeError(
                    f"ModuleDict.update: element {j} should be a (key, module) pair, "
                    f"got {type(pair).__name__}"
                )
            self[pair[0]] = pair[1]


def _as_parameter(value, owner):
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor | np.ndarray) and np.asarray(getattr(value, "data", value)
                                                              ).dtype.kind == "f":
        return Parameter(value)
    raise TypeError(f"{owner} holds Parameters or floating arrays, got {type(value).__name__}")


class ParameterList(Module):
    """A list of parameters that are registered (PyTorch's ``nn.ParameterList``).

    Floating arrays and tensors are wrapped in :class:`Parameter`.

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> ps = nn.ParameterList([np.zeros(2), np.ones(3)])
    >>> [name for name, _ in ps.named_parameters()]
    ['0', '1']
    """

    replayable = True

    def __init__(self, values=None):
        super().__init__()
        for value in values or ():
            self.append(value)

    def __getitem__(self, index):
        items = list(self._parameters.values())
        return items[_position(index, len(items), "ParameterList")]

    def __setitem__(self, index, value):
        i = _position(index, len(self._parameters), "ParameterList")
        self.register_parameter(str(i), _as_parameter(value, "ParameterList"))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def append(self, value):
        """Add a parameter at the end; returns self."""
        self.register_parameter(str(len(self._parameters)), _as_parameter(value, "ParameterList"))
        return self

    def extend(self, values):
        """Append every parameter of ``values``; returns self."""
        for value in values:
            self.append(value)
        return self


class ParameterDict(Module):
    """A dict of parameters that are registered (PyTorch's ``nn.ParameterDict``).

    Examples
    --------
    >>> import numpy as np
    >>> from nablanet import nn
    >>> ps = nn.ParameterDict({"scale": np.ones(2)})
    >>> ps["scale"].requires_grad
    True
    """

    replayable = True

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.update(values)

    def __getitem__(self, key):
        if key not in self._parameters:
            raise KeyError(f"ParameterDict has no key {key!r}; keys: {list(self._parameters)}")
        return self._parameters[key]

    def __setitem__(self, key, value):
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ParameterDict: a key must be a non-empty str without '.', got {key!r}")
        self.register_parameter(key, _as_parameter(value, "ParameterDict"))

    def __delitem__(self, key):
        self[key]  # noqa: B018 - the KeyError naming the keys
        self._changed()
        del self._parameters[key]

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def keys(self):
        """The keys, in insertion order."""
        return self._parameters.keys()

    def values(self):
        """The parameters, in insertion order."""
        return self._parameters.values()

    def items(self):
        """``(key, parameter)`` pairs, in insertion order."""
        return self._parameters.items()

    def update(self, values):
        """Add or replace parameters from a mapping or an iterable of pairs."""
        pairs = values.items() if isinstance(values, Mapping) else values
        for key, value in pairs:
            self[key] = value


__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList", "Sequential"]
