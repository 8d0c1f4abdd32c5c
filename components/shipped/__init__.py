"""Code copied into containers and run there, never by the Pulumi program.

Each folder is one container's directory as the container sees it: `litellm/` is LiteLLM's
/etc/litellm (beside the rendered config.yaml), `key_writer/` the one-shot key writer's /opt/llmstack.
The program reads these files as text and uploads them; of them, it imports only
`litellm/llmstack_contract.py`, the names both sides must agree on.
"""
