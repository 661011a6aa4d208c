"""``python -m bot``: the ``netadvisor`` command line."""

import sys

from bot.cli import main

sys.exit(main())
