"""The one-shot key writer's /opt/llmstack: the script that delivers the keys file."""
