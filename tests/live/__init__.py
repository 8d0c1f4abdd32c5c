"""Live tier: the real nginx and LiteLLM running the exact rendered files, on loopback."""
