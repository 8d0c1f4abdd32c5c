"""Stack config → frozen, validated settings: the only reader of `pulumi.Config`.

keys.py      every config key: type, default, meaning (Pulumi.yaml and docs/CONFIGURATION.md follow it)
rules.py     parsing rules for raw strings: each error names the key, the bad value and what is allowed
clients.py   the `clients` map, field by field
tunnel.py    the Cloudflare Tunnel keys
model.py     the frozen settings the stack is built from (plain values, no secrets)
load.py      raw config → `Settings`, and the reading of it from Pulumi
"""

from components.settings.load import SecretConfig, load_settings, parse_settings
from components.settings.model import Settings
from components.settings.rules import SettingsError

__all__ = ["SecretConfig", "Settings", "SettingsError", "load_settings", "parse_settings"]
