"""Unit tier: pure functions, the settings and the modules shipped into containers, in-process."""
