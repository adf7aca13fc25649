"""``python -m harness`` is the ``ackbound`` command."""

import sys

from harness.cli import main

sys.exit(main())
