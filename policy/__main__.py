"""The policy pack Pulumi runs for `pulumi preview --policy-pack policy` (serves until the engine stops it).

The CLI starts `<virtualenv>/bin/python -u -m pulumi.policy <engine> .` in this directory, which
runs this file with the directory first on sys.path. The pack needs no file outside it: the rules
are imported as the package `policy` from this directory, whatever it is called.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PACK_DIR = Path(__file__).resolve().parent
# A module here (images, props, …) must not shadow a library's: only the package `policy` is imported.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _PACK_DIR]
_SPEC = importlib.util.spec_from_file_location(
    "policy", _PACK_DIR / "__init__.py", submodule_search_locations=[str(_PACK_DIR)]
)
if _SPEC is None or _SPEC.loader is None:
    raise ImportError(f"cannot load the policy package from {_PACK_DIR}")
sys.modules["policy"] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(sys.modules["policy"])

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402 - after the package is set up

from policy.pack import PACK_NAME, policies  # noqa: E402

PolicyPack(PACK_NAME, policies(), enforcement_level=EnforcementLevel.MANDATORY)
