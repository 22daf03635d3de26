"""``python -m rfq``: the same as the ``rfq`` command."""

import sys

from rfq.cli import main

sys.exit(main())
