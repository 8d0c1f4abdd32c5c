"""llmstack tests."""
