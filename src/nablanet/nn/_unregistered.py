"""The warning for modules and parameters kept in plain lists, tuples, dicts and sets.

PyTorch registers a sub-module only when it is assigned to an attribute directly or
held by ``nn.ModuleList`` / ``nn.ModuleDict``; one kept in a Python list is silently
left out of ``parameters()``, ``state_dict()``, ``train()/eval()`` and ``.to()``, so
an optimiser never trains it.  nablanet registers the same way, and says so: when a
plain container attribute holds a Module or Parameter that no registered path reaches,
a :class:`UnregisteredModuleWarning` names the attribute and the container to use.
The check runs at each traversal (``parameters()``, ``modules()``, ``state_dict()``,
``train()``, ...), not at assignment: a list filled after it was assigned is caught,
and a list of modules that are registered as attributes later is not a false alarm.
"""

from __future__ import annotations

import os
import sys
import warnings

#: Attributes of Module itself that hold modules and parameters by design.
_INTERNAL = frozenset({"_parameters", "_buffers", "_modules", "_buffer_names",
                       "_non_persistent", "_warned_unregistered"})
_PLAIN = (list, tuple, dict, set, frozenset)
_DEPTH = 4


class UnregisteredModuleWarning(UserWarning):
    """A Module or Parameter sits in a plain container attribute and is not registered."""


_FIX = {
    "Module": {"dict": "nn.ModuleDict", "other": "nn.ModuleList"},
    "Parameter": {"dict": "nn.ParameterDict", "other": "nn.ParameterList"},
}


def _held(value, module_type, parameter_type, depth=_DEPTH):
    """Modules and Parameters inside nested plain containers (not inside modules)."""
    if depth == 0:
        return
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, module_type | parameter_type):
            yield item
        elif isinstance(item, _PLAIN):
            yield from _held(item, module_type, parameter_type, depth - 1)


def warn_unregistered(owner, name, value, known_modules, known_parameters):
    """Warn once per attribute when ``value`` holds modules or parameters not in the tree.

    Parameters
    ----------
    owner : Module
        The module whose attribute ``name`` is ``value``.
    name : str
    value : object
        Only plain lists, tuples, dicts and sets are looked into.
    known_modules, known_parameters : set of int
        ``id`` of the modules and parameters that registered paths reach (items already
        registered elsewhere are only references, and lose nothing).
    """
    if not isinstance(value, _PLAIN) or name in _INTERNAL:
        return
    from nablanet.nn.module import Module, Parameter

    lost = [item for item in _held(value, Module, Parameter)
            if id(item) not in (known_modules if isinstance(item, Module) else known_parameters)]
    if not lost:
        return
    warned = owner.__dict__.setdefault("_warned_unregistered", set())
    if name in warned:
        return
    warned.add(name)
    kind = "Module" if isinstance(lost[0], Module) else "Parameter"
    fix = _FIX[kind]["dict" if isinstance(value, dict) else "other"]
    what = ", ".join(sorted({type(item).__name__ for item in lost}))
    warnings.warn(
        f"{type(owner).__name__}.{name} is a plain {type(value).__name__} holding "
        f"{len(lost)} {kind}(s) ({what}) that are not registered: parameters(), "
        f"state_dict(), train()/eval(), .to() and optimizers will not see them. "
        f"Hold them in {fix} instead (as in PyTorch, which drops them silently)",
        UnregisteredModuleWarning, stacklevel=user_stacklevel(),
    )


def user_stacklevel():
    """The ``stacklevel`` of the first caller outside ``nablanet.nn`` (for warnings)."""
    here = os.path.dirname(__file__)
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == here:
        frame, level = frame.f_back, level + 1
    return level


def check_tree(modules):
    """Run :func:`warn_unregistered` over every plain attribute of ``modules`` (a tree)."""
    known_modules = {id(m) for m in modules}
    known_parameters = {id(p) for m in modules for p in m._parameters.values()}
    for module in modules:
        for name, value in list(module.__dict__.items()):
            if isinstance(value, _PLAIN) and name not in _INTERNAL:
                warn_unregistered(module, name, value, known_modules, known_parameters)
