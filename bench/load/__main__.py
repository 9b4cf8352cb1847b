"""``python -m bench.load``: the load test (see the package's docstring)."""

import sys

from bench.load.harness import main

sys.exit(main())
