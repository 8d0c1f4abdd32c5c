"""llmstack's Pulumi program and what it ships.

- `program.py`, `stack.py`: read the settings, build the stack, export its outputs.
- One ComponentResource per concept: `edge.py` (nginx), `gateway.py` (LiteLLM), `client_keys.py`,
  `model_server.py` (Ollama), `tunnel.py` (Cloudflare), `certificate.py`, `networks.py`;
  `container_defaults.py` (what every container shares), `client_configs.py` (each client's
  ready-to-use configuration, as secret outputs).
- `settings/`: the only reader of stack config → frozen, validated settings.
- `render/`: pure renderers, typed context → exact file text, run by the program.
- `shipped/`: code copied into containers and run there, never by the program.
"""
