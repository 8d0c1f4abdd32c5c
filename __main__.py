"""llmstack: a self-hosted LLM stack (Ollama → LiteLLM → nginx), secure by default."""

from components.program import run

run()
