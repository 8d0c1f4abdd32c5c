"""LiteLLM's /etc/litellm: the auth hook, its callbacks, its start and the contract they share."""
