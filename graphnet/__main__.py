"""``python -m graphnet``: the command line (see :mod:`graphnet.cli`)."""

import sys

from graphnet.cli import main

sys.exit(main())
