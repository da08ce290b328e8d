"""Numerical checks of derivatives and claims (floor 5)."""

from nablanet.checks.gradcheck import GradientCheckError, check_grads

__all__ = ["GradientCheckError", "check_grads"]
