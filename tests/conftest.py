"""Top-level test setup: import ccswitch from this checkout's src/ even when not installed,
and the hypothesis profiles.

`bin/test` installs the package (editable) into .venv; the path only helps a bare
`python3 -m pytest` run from the repository root. This directory is on `sys.path` too (pytest
puts a conftest's directory there), so every test can `from peers import require_peer`.

Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default `ci`, what `bin/test` and CI run):
`ci` keeps hypothesis' own budget (100 examples where a test sets none) without deadlines (two
cores are shared, timing says nothing); `quick` is a tenth of it for a fast local loop;
`thorough` ten times it, for a long run before a release; `noshrink` is `ci` without
shrinking, to learn quickly whether a test catches a deliberate fault. A test that names its own
`max_examples` keeps it; the router's stateful test scales with the profile.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import Phase, settings

_SRC = str(Path(__file__).resolve().parents[1] / "src")
if _SRC not in sys.path:
    sys.path.insert(0, _SRC)

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("quick", settings.get_profile("ci"), max_examples=10)
settings.register_profile("thorough", settings.get_profile("ci"), max_examples=1000)
settings.register_profile("noshrink", settings.get_profile("ci"),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
