"""Entry point of ``python -m compat``."""

import sys

from compat._cli import main

sys.exit(main())
