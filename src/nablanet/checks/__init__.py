"""Numerical checks of derivatives and claims (floor 5)."""

# curvature, convergence orders and the claim-by-claim report (nablanet verify)
from nablanet.checks.claims import (
    ClaimCheck,
    all_passed,
    build_table,
    render_table,
    run_all,
    to_json,
)
from nablanet.checks.convergence import (
    empirical_orders,
    error_constants,
    estimated_order,
    loglog_slope,
    taylor_errors,
    taylor_slopes,
)
from nablanet.checks.curvature import (
    CurvatureReport,
    curvature_report,
    hessian_spectrum,
    is_psd,
    min_eigenvalue,
    null_space,
    null_vector_residual,
    rounding_tolerance,
    symmetry_error,
)
from nablanet.checks.gradcheck import GradientCheckError, check_grads

__all__ = ["GradientCheckError", "check_grads"]
__all__ += [
    "ClaimCheck", "CurvatureReport", "all_passed", "build_table", "curvature_report",
    "empirical_orders", "error_constants", "estimated_order", "hessian_spectrum", "is_psd",
    "loglog_slope", "min_eigenvalue", "null_space", "null_vector_residual", "render_table",
    "rounding_tolerance", "run_all", "symmetry_error", "taylor_errors", "taylor_slopes",
    "to_json",
]
