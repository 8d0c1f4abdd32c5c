"""The policy pack Pulumi runs for `pulumi preview --policy-pack policy` (serves until the engine stops it)."""

from __future__ import annotations

import sys
from pathlib import Path

_PACK_DIR = Path(__file__).resolve().parent
# Pulumi runs this file with the pack directory first on sys.path. Import the rules as the `policy`
# package from the project root instead, so no module in this directory can shadow a library's.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _PACK_DIR]
sys.path.insert(0, str(_PACK_DIR.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402 - needs the path set above

from policy.pack import PACK_NAME, policies  # noqa: E402

PolicyPack(PACK_NAME, policies(), enforcement_level=EnforcementLevel.MANDATORY)
