"""Developer tools that run on the operator's machine: lock checks and the like, never deployed."""
