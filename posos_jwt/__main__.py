"""Run the command line as ``python -m posos_jwt``."""

import sys

from ._cli import main

sys.exit(main())
