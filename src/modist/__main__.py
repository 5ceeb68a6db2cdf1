"""``python -m modist ...``: the ``modist`` command, where the console script is not on ``PATH``."""

import sys

from modist.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
