"""Top-level test setup: import ccswitch from this checkout's src/ even when not installed.

`bin/test` installs the package (editable) into .venv; this only helps a bare
`python3 -m pytest` run from the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)
