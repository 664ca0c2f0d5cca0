"""Where tests find the project's shared data: ../shared beside the repository (CI clones the
repo with shared/ next to it), overridable with SPARKRL_SHARED."""

import os
from pathlib import Path

SHARED_DIR = Path(os.environ.get("SPARKRL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
ALFWORLD_ARCHIVES = SHARED_DIR / "data" / "alfworld"
