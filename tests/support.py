"""Constants and helpers shared by the test modules."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACK_FILES = sorted(PROJECT_DIR.glob("Pulumi.*.yaml"))

LAN = {"exposure": "lan", "listenAddress": "192.168.50.10", "allowedCidrs": ["192.168.50.0/24"]}
"""A lan-mode config (rendered only: nothing is ever sent to these addresses)."""


SHIPPED_LITELLM = PROJECT_DIR / "components" / "shipped" / "litellm"
"""The files llmstack uploads to LiteLLM's /etc/litellm, beside the rendered config.yaml."""


def load_shipped(module: str, directory: Path = SHIPPED_LITELLM, name: str | None = None) -> ModuleType:
    """A module shipped into the LiteLLM container, loaded by path as LiteLLM loads it.

    Its directory is first on sys.path while it loads, as in the container, whose command is a
    script there: that is how the module finds `llmstack_contract`.
    """
    path = directory / f"{module}.py"
    spec = importlib.util.spec_from_file_location(name or module, path)
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(str(directory))
    return loaded


def namespaced(config: Mapping[str, object]) -> dict[str, str]:
    """Stack config as the engine passes it: namespaced keys, strings, lists as JSON."""
    return {f"llmstack:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


TUNNEL = {
    "exposure": "tunnel",
    "hostname": "llm.example.com",
    "cloudflareAccountId": "0123456789abcdef0123456789abcdef",
    "cloudflareZoneId": "fedcba9876543210fedcba9876543210",
}
"""A tunnel-mode config with placeholder Cloudflare ids (rendered only: nothing talks to Cloudflare)."""

ACME = {
    **LAN,
    "hostname": "llm.example.com",
    "tlsSource": "acme",
    "acmeEmail": "ops@example.com",
    "acmeZoneName": "example.com",
    "acmeZoneId": "0123456789abcdef0123456789abcdef",
}
"""A `tlsSource: acme` config whose DNS token the stack creates (rendered only: nothing talks to an ACME CA)."""
