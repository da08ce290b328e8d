"""``python -m nablanet``: the same program as the ``nablanet`` command."""

import sys

from nablanet.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
