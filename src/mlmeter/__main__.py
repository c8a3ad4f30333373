"""``python -m mlmeter``."""

import sys

from mlmeter.cli.main import main

sys.exit(main())
