"""llmstack components: one concept per module, each a ComponentResource."""
