"""docs/CONFIGURATION.md, generated from the key table (components/settings/keys.py).

`python -m tools.config_reference` rewrites the file; a test fails while the two differ, so the
reference cannot drift from what the program reads.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from components.settings.keys import DECLARED_KEYS, NAMESPACE, SECRET_KEYS, STRUCTURED_KEYS, ConfigKey

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "CONFIGURATION.md"

_INTRO = """\
# Configuration reference

<!-- Generated from components/settings/keys.py by `python -m tools.config_reference`: edit the table there. -->

Set a key with `pulumi config set <key> <value>` (lists: `pulumi config set --path 'models[0]' …`);
the stack files `Pulumi.<stack>.yaml` hold them as `{namespace}:<key>`. Every bad value stops the run
before any resource is created, with a message naming the key, the value and what is allowed;
unknown `{namespace}:` keys are errors, so a typo does not fall back to a default.

## Keys

| key | type | default | meaning |
|---|---|---|---|
"""

_CLIENTS = """
## API clients (`clients`)

A map, so Pulumi cannot declare it (`Pulumi.yaml` documents it in comments). Each client gets its
own pulumi-random key (`sk-` + 48 characters) and its own generated configs (the `clients` output);
removing a client and running `pulumi up` revokes its key. The master key (`masterKey` output) is
the admin key: give tools client keys.

```yaml
  {namespace}:clients:
    vscode:                      # a name: lowercase letters, digits, -
      models: [qwen2.5-0.5b]     # client-facing model names; omit (or '*') for every served model
      apis: [chat, models]       # chat (chat + text completions), embeddings, models; default: all three
      rpmLimit: 120              # model calls per minute, all workers together; default: edge limits only
    ops:
      admin: true                # may use LiteLLM's admin routes (where adminCidrs lets them through)
      epoch: "2026-11"           # change to rotate this client's key (default "0")
      previousEpoch: "0"         # optional grace window: the previous key stays valid…
      previousValidUntil: 2026-12-01T00:00:00Z   # …until then (the gateway refuses it by itself after)
```

{structured}
## Secrets

Set with `pulumi config set --secret <key> <value>`; a plaintext value in the stack file is refused.

| key | meaning |
|---|---|
"""


def _default(key: ConfigKey) -> str:
    """The default as a user would type it."""
    if key.default == "":
        return "empty"
    if isinstance(key.default, tuple):
        return f"`{json.dumps(list(key.default))}`"
    if isinstance(key.default, bool):
        return f"`{str(key.default).lower()}`"
    return f"`{key.default}`"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The exact text of docs/CONFIGURATION.md."""
    rows = [
        f"| `{k.name}` | {k.type} | {_default(k)} | {_cell(' '.join(filter(None, (k.description, k.details))))} |"
        for k in DECLARED_KEYS
    ]
    structured = "\n".join(f"`{k.name}`: {k.description}\n" for k in STRUCTURED_KEYS)
    secrets = [f"| `{k.name}` | {_cell(k.description)} |" for k in SECRET_KEYS]
    return (
        _INTRO.format(namespace=NAMESPACE)
        + "\n".join(rows)
        + "\n"
        + _CLIENTS.format(namespace=NAMESPACE, structured=structured)
        + "\n".join(secrets)
        + "\n"
    )


def main() -> int:
    """Rewrite docs/CONFIGURATION.md from the key table."""
    OUTPUT.write_text(render())
    sys.stdout.write(f"wrote {OUTPUT}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
