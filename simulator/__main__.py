"""``python -m simulator``: run the venue simulator until Ctrl-C."""

import sys

from simulator.cli import main

sys.exit(main())
