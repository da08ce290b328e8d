"""Question 4: the Jacobian and the Hessian, and what each one predicts.

For y(u, v, z) = u^2 v + exp(u z) + z tanh(v) the Jacobian is the gradient row
(dy/du, dy/dv, dy/dz) and the Hessian the 3 x 3 matrix of second partials
(claim C4).  This script compares nablanet's ``jacobian`` and ``hessian`` with the
derivatives worked out by hand, checks the Hessian's symmetry, computes a 2 x 3
Jacobian of a map R^3 -> R^2, and measures what "first-order" and "second-order
information" mean: the error of the Taylor model f + J h shrinks like |h|^2,
and with + h^T H h / 2 like |h|^3 (figure: the fitted slopes).

Run: python examples/q4_jacobian_hessian.py [--quick] [--out DIR]
"""

import numpy as np
from _common import compare, heading, parse_args, pyplot, relative_error, save

import nablanet as nb
from nablanet.checks import hessian_spectrum, loglog_slope, symmetry_error, taylor_errors


def y_function(p):
    u, v, z = p[0], p[1], p[2]
    return u * u * v + nb.exp(u * z) + z * nb.tanh(v)


def by_hand(u, v, z):
    """Gradient and Hessian of y(u, v, z), differentiated by hand."""
    e, t = np.exp(u * z), np.tanh(v)
    s = 1 - t * t  # sech^2 v
    gradient = np.array([2 * u * v + z * e, u * u + z * s, u * e + t])
    H = np.array([[2 * v + z * z * e, 2 * u, e + u * z * e],
                  [2 * u, -2 * z * s * t, s],
                  [e + u * z * e, s, u * u * e]])
    return gradient, H


def vector_map(p):
    """F(u, v, z) = (u v z, e^u + v^2): R^3 -> R^2."""
    return nb.stack([p[0] * p[1] * p[2], nb.exp(p[0]) + p[1] * p[1]])


def check_derivatives(point):
    heading(f"y(u, v, z) = u^2 v + exp(u z) + z tanh(v) at (u, v, z) = {tuple(point.tolist())}")
    gradient, H = by_hand(*point)
    J = nb.jacobian(y_function)(point)
    H_engine = nb.hessian(y_function)(point)
    print(f"  Jacobian (engine)  {np.array2string(np.asarray(J), precision=5)}")
    compare("Jacobian vs hand-derived, rel. error", 0.0, relative_error(J, gradient))
    compare("Hessian vs hand-derived, rel. error", 0.0, relative_error(H_engine, H))
    compare("Hessian asymmetry |H - H^T| / |H|", 0.0, symmetry_error(H_engine))
    eigenvalues = hessian_spectrum(H_engine)
    print(f"  Hessian eigenvalues {np.array2string(eigenvalues, precision=4)}: "
          f"{'indefinite' if eigenvalues[0] < 0 < eigenvalues[-1] else 'definite'} here "
          "(curvature differs by direction)")
    u, v, z = point
    J_map = np.array([[v * z, u * z, u * v], [np.exp(u), 2 * v, 0.0]])
    compare("2 x 3 Jacobian of (uvz, e^u + v^2) vs hand-derived", 0.0,
            relative_error(nb.jacobian(vector_map)(point), J_map))


def taylor(point, quick):
    heading("Taylor models along a random unit direction d")
    direction = np.random.default_rng(0).standard_normal(3)
    direction /= np.linalg.norm(direction)
    steps = np.logspace(-3, -0.5, 8 if quick else 20)
    first, second = taylor_errors(y_function, point, direction, steps)
    compare("slope of log|f(x+hd) - f - h J.d| vs log h", 2.0, loglog_slope(steps, first))
    compare("slope with + h^2 d.H.d / 2", 3.0, loglog_slope(steps, second))
    return steps, first, second


def plot(out, steps, first, second):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(steps, first, "o-", label=f"f + J h  (slope {loglog_slope(steps, first):.2f})")
    ax.loglog(steps, second, "s-",
              label=f"f + J h + h'Hh/2  (slope {loglog_slope(steps, second):.2f})")
    ax.loglog(steps, first[0] * (steps / steps[0]) ** 2, "k:", lw=1, label="h^2, h^3 guides")
    ax.loglog(steps, second[0] * (steps / steps[0]) ** 3, "k:", lw=1)
    ax.set(xlabel="step |h|", ylabel="Taylor model error",
           title="First- and second-order information of y(u, v, z)")
    ax.legend()
    return save(fig, out, "q4_jacobian_hessian.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    point = np.array([0.7, -0.4, 1.3])
    check_derivatives(point)
    steps, first, second = taylor(point, args.quick)
    plot(args.out, steps, first, second)


if __name__ == "__main__":
    main()
