"""The old command, ``python bench/load.py``: the load test now lives in the package ``bench.load``.

.venv/bin/python bench/load.py --seconds 30    # the same as python -m bench.load --seconds 30
"""

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path; the project's root must instead, so
# that ``bench.load`` is the package (a folder wins over this file of the same name).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.load.harness import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
