"""The program: ``nablanet train``, ``nablanet verify``, ``nablanet predict`` (floor 6).

Entry point :func:`nablanet.cli.main.main`; rich and matplotlib load only here.
"""

from nablanet.cli.main import main

__all__ = ["main"]
