"""Policy tier: the policy pack's rules, the pack as the engine drives it, and as the CLI launches it."""
