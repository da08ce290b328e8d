"""Question 6: Newton's method converges quadratically, near a simple root.

The notes expand f around the root x* and find |e_{k+1}| ~= C |e_k|^2 with
C = |f''(x*) / (2 f'(x*))| (claim C6; the signed recursion is
e_{k+1} ~= +(f''/(2 f')) e_k^2).  This script runs ``nablanet.optim.newton_root``
(derivatives from the engine) on

* f(x) = x^3 - 2x - 4 = (x - 2)(x^2 + 2x + 2), a simple root at 2 where
  f' = 10, f'' = 12, so C = 0.6: the fitted order tends to 2;
* f(x) = x^3 - 3x + 2 = (x - 1)^2 (x + 2), a double root at 1: f'(x*) = 0, the
  derivation breaks, and the order drops to 1 with ratio e_{k+1}/e_k -> 1/2,

and then shows the optimisation caveat: pure Newton on the gradient stops at
any stationary point (here a saddle); the library's damped Newton finds a minimum.
Figure: log e_{k+1} against log e_k, whose slope is the order.

Run: python examples/q6_newton.py [--quick] [--out DIR]
"""

import numpy as np
from _common import compare, heading, parse_args, pyplot, report, save

import nablanet as nb
from nablanet.checks import empirical_orders, error_constants, min_eigenvalue
from nablanet.optim import newton, newton_root


def simple_root():
    heading("simple root: f(x) = x^3 - 2x - 4 from x0 = 3, root 2")
    result = newton_root(lambda x: x**3 - 2 * x - 4, 3.0, x_true=2.0)
    signed = np.asarray(result.iterates) - 2.0
    for k, e in enumerate(signed):
        print(f"  e_{k} = {e: .3e}")
    compare("empirical order log(e+/e) / log(e/e-), last", 2.0, empirical_orders(signed)[-1])
    compare("e_{k+1} / e_k^2 (signed), last: f''/(2f') = 12/20", 0.6,
            error_constants(signed, order=2)[-1])
    report("newton_root's verdict", f"{result.convergence} ({result.stop_reason})")
    return np.abs(signed)


def double_root():
    heading("double root: f(x) = (x - 1)^2 (x + 2) from x0 = 2")
    result = newton_root(lambda x: x**3 - 3 * x + 2, 2.0, x_true=1.0)
    signed = np.asarray(result.iterates) - 1.0
    # f ~ e^2 near the root, so rounding limits the error to ~sqrt(eps): keep e > 1e-6
    compare("empirical order (errors > 1e-6), last", "2 (notes)",
            empirical_orders(signed, floor=1e-6)[-1])
    compare("e_{k+1} / e_k, last: (m - 1)/m for multiplicity m = 2", 0.5,
            error_constants(signed, order=1, floor=1e-6)[-1])
    report("steps to reach |e| < 1e-6", int(np.argmax(np.abs(signed) < 1e-6)))
    report("newton_root's verdict", result.convergence)
    report("newton_root's message", result.message)
    return np.abs(signed)


def double_well(p):
    """f(x, y) = x^4/4 - x^2/2 + y^2/2: minima at (+-1, 0), a saddle at (0, 0)."""
    return p[0] ** 4 / 4 - p[0] * p[0] / 2 + p[1] * p[1] / 2


def optimisation():
    heading("minimising f(x, y) = x^4/4 - x^2/2 + y^2/2 from (0.3, 1): Newton on the gradient")
    start = np.array([0.3, 1.0])
    report("smallest Hessian eigenvalue at the start (indefinite)",
           min_eigenvalue(nb.hessian(double_well)(start)))
    theta = start.copy()
    for _ in range(30):  # pure Newton: theta <- theta - H^-1 g, no safeguards
        theta = theta - np.linalg.solve(nb.hessian(double_well)(theta), nb.grad(double_well)(theta))
    report(f"pure Newton ends at ({theta[0]:.2g}, {theta[1]:.2g}): smallest eigenvalue",
           min_eigenvalue(nb.hessian(double_well)(theta)))
    print("  -> a saddle, not a minimum: Newton finds stationary points, and only locally (C6)")
    result = newton(double_well, start)
    report(f"damped Newton ends at ({result.x[0]:.3g}, {result.x[1]:.2g}): smallest eigenvalue",
           min_eigenvalue(nb.hessian(double_well)(result.x)))
    report("damped Newton", result.message)


def plot(out, simple, double):
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.semilogy(simple, "o-", label="simple root (x - 2)(x^2 + 2x + 2)")
    left.semilogy(double[double > 0], "s-", label="double root (x - 1)^2 (x + 2)")
    left.set(xlabel="iteration k", ylabel="|e_k| = |x_k - x*|", title="Newton's error sequence")
    left.legend()
    for errors, floor, marker, order in ((simple, 1e-13, "o", 2), (double, 1e-6, "s", 1)):
        e = errors[errors > floor]
        slope = np.polyfit(np.log(e[:-1]), np.log(e[1:]), 1)[0] if len(e) > 2 else np.nan
        right.loglog(e[:-1], e[1:], marker + "-",
                     label=f"order {order} expected, fitted slope {slope:.2f}")
    right.set(xlabel="|e_k|", ylabel="|e_{k+1}|", title="Slope of log e_{k+1} vs log e_k = order")
    right.legend()
    return save(fig, out, "q6_newton.png")


def main():
    args = parse_args(__doc__.splitlines()[0])
    simple = simple_root()
    double = double_root()
    optimisation()
    plot(args.out, simple, double)


if __name__ == "__main__":
    main()
