"""``python -m mlmeter.cli``."""

import sys

from mlmeter.cli.main import main

sys.exit(main())
