"""``einsum`` with NumPy's subscripts; its VJP is another einsum.

The public function normalises the subscripts (implicit output, ellipses spelt
out as letters, broadcasting of ellipsis axes made explicit with ``broadcast_to``)
so that the primitive only sees explicit labels.  The cotangent of operand ``i``
contracts ``g`` with the other operands onto operand ``i``'s labels; a label
repeated in the operand (a diagonal) is written back through an identity
matrix, and a label summed over that operand alone through a vector of ones.
"""

from __future__ import annotations

from string import ascii_letters

import numpy as np

from nablanet.autodiff.primitive import ALL_ARGUMENTS, Primitive
from nablanet.autodiff.tensor import shape_of
from nablanet.ops.shape import broadcast_to

#: Above this many elements in all, contractions go through BLAS (``optimize``).
_OPTIMIZE_SIZE = 4096


def _einsum_impl(*operands, spec):
    size = sum(np.size(a) for a in operands)
    return np.einsum(spec, *operands, optimize="greedy" if size > _OPTIMIZE_SIZE else False)


def _parse(spec):
    inputs, outputs = spec.split("->")
    return inputs.split(","), outputs


def _label_sizes(inputs, operands):
    sizes = {}
    for labels, op in zip(inputs, operands, strict=True):
        for label, n in zip(labels, shape_of(op), strict=True):
            sizes[label] = n
    return sizes


def _einsum_rule(g, ans, needs, *operands, spec):
    # out = sum over contracted labels of prod_j A_j  =>  dL/dA_i = einsum(g, A_j (j != i))
    # onto A_i's labels
    inputs, output = _parse(spec)
    sizes = _label_sizes(inputs, operands)
    used = set(spec)
    fresh = iter(c for c in ascii_letters if c not in used)
    batch = "".join(next(fresh) for _ in range(len(shape_of(g)) - len(output)))
    dtype = getattr(g, "dtype", np.float64)
    cots = []
    for i, need in enumerate(needs):
        if not need:
            cots.append(None)
            continue
        terms = [batch + output] + [lab for j, lab in enumerate(inputs) if j != i]
        args = [g] + [op for j, op in enumerate(operands) if j != i]
        target = ""
        for label in inputs[i]:
            if label in target:  # a diagonal: a fresh label tied to the first by an identity
                twin = next(fresh)
                terms.append(label + twin)
                args.append(np.eye(sizes[label], dtype=dtype))
                label = twin
            target += label
        present = set("".join(terms))
        for label in target:
            if label not in present:  # summed over this operand only: spread by ones
                terms.append(label)
                args.append(np.ones(sizes[label], dtype=dtype))
        cots.append(_einsum(*args, spec=",".join(terms) + "->" + batch + target))
    return tuple(cots)


_einsum = Primitive("einsum", _einsum_impl)
_einsum.defvjp_joint(_einsum_rule, values=ALL_ARGUMENTS)


def _expand_ellipses(inputs, operands):
    """Spell each '...' as letters; return (inputs, ellipsis letters, broadcast operands)."""
    used = set("".join(inputs))
    ell_shapes = []
    for labels, op in zip(inputs, operands, strict=True):
        explicit = len(labels.replace("...", ""))
        ndim = len(shape_of(op))
        if "..." in labels:
            if ndim < explicit:
                raise ValueError(f"einsum: operand of shape {shape_of(op)} has too few axes "
                                 f"for subscripts {labels!r}")
            start = labels.index("...")
            ell_shapes.append(tuple(shape_of(op))[start:start + ndim - explicit])
        elif ndim != explicit:
            raise ValueError(f"einsum: subscripts {labels!r} name {explicit} axes but the "
                             f"operand has shape {shape_of(op)}")
    try:
        ell_shape = np.broadcast_shapes(*ell_shapes) if ell_shapes else ()
    except ValueError:
        raise ValueError(f"einsum: the '...' axes {ell_shapes} do not broadcast") from None
    letters = "".join([c for c in ascii_letters if c not in used][: len(ell_shape)])
    if len(letters) < len(ell_shape):
        raise ValueError("einsum: too many axes for the 52 subscript letters")
    new_inputs, new_operands = [], []
    for labels, op in zip(inputs, operands, strict=True):
        if "..." in labels:
            explicit = len(labels.replace("...", ""))
            n_ell = len(shape_of(op)) - explicit
            start = labels.index("...")
            own = tuple(shape_of(op))[start:start + n_ell]
            full = ell_shape[len(ell_shape) - n_ell:] if n_ell else ()
            if own != full:  # a stretched axis: broadcast explicitly (its rule sums back)
                shape = tuple(shape_of(op))
                op = broadcast_to(op, shape[:start] + full + shape[start + n_ell:])
            labels = labels.replace("...", letters[len(letters) - n_ell:] if n_ell else "")
        new_inputs.append(labels)
        new_operands.append(op)
    return new_inputs, letters, new_operands


def _broadcast_labels(inputs, operands, subscripts):
    """Stretch length-one axes to their label's size (NumPy broadcasts them)."""
    sizes = {}
    for labels, op in zip(inputs, operands, strict=True):
        for label, n in zip(labels, shape_of(op), strict=True):
            known = sizes.setdefault(label, n)
            if known == 1:
                sizes[label] = n
            elif n not in (1, known):
                raise ValueError(f"einsum: label {label!r} has sizes {known} and {n} "
                                 f"in {subscripts!r}")
    out = []
    for labels, op in zip(inputs, operands, strict=True):
        want = tuple(sizes[label] for label in labels)
        out.append(op if tuple(shape_of(op)) == want else broadcast_to(op, want))
    return out


def einsum(subscripts, *operands, optimize=None):
    """Einstein summation (``numpy.einsum``): any subscripts, ellipses, implicit output.

    Parameters
    ----------
    subscripts : str
        E.g. ``"ij,jk->ik"``, ``"ii"``, ``"...ij,...jk"``; without ``->`` the output is
        the ellipsis axes then the labels used once, alphabetically, as NumPy's.
    *operands : Tensor or array_like
    optimize : ignored
        Accepted for NumPy's signature; large contractions always go through BLAS.

    Returns
    -------
    Tensor or ndarray

    Examples
    --------
    >>> import numpy as np, nablanet as nb
    >>> a = np.arange(4.0).reshape(2, 2)
    >>> float(nb.einsum("ii", a))                # the trace
    3.0
    >>> nb.grad(lambda m: nb.einsum("ij,ij->", m, m))(a)   # d sum(m^2) = 2 m
    array([[0., 2.],
           [4., 6.]])
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum: pass the subscripts as a string (the sublist form is not "
                        "supported)")
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        inputs, output = spec.split("->")
        explicit_output = True
    else:
        inputs, output, explicit_output = spec, "", False
    inputs = inputs.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(inputs)} operands, "
                         f"{len(operands)} given")
    operands = [op if hasattr(op, "shape") else np.asarray(op) for op in operands]
    for labels in inputs + [output]:
        bad = set(labels.replace("...", "")) - set(ascii_letters)
        if bad:
            raise ValueError(f"einsum: subscripts must be letters, got {sorted(bad)} in "
                             f"{subscripts!r}")
    inputs, ell, operands = _expand_ellipses(inputs, operands)
    if explicit_output:
        if ell and "..." not in output:
            raise ValueError(f"einsum: the operands have '...' axes that the output "
                             f"{output!r} does not keep; add '...' to the output")
        output = output.replace("...", ell)
    else:
        joined = "".join(inputs)
        once = sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell)
        output = ell + "".join(once)
    for label in output:
        if label not in "".join(inputs):
            raise ValueError(f"einsum: output label {label!r} appears in no operand")
        if output.count(label) > 1:
            raise ValueError(f"einsum: output label {label!r} is repeated")
    operands = _broadcast_labels(inputs, operands, subscripts)
    return _einsum(*operands, spec=",".join(inputs) + "->" + output)


__all__ = ["einsum"]
