"""Mock tier: the whole program under the offline engine (Pulumi mocks, stand-in providers)."""
