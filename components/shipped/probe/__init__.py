"""The model-server probe's /opt/llmstack: Ollama's state and the edge certificate, as Prometheus metrics."""
