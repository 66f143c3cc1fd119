"""``python -m ccswitch``: the ``ccswitch`` command."""

import sys

from .cli import main

sys.exit(main())
