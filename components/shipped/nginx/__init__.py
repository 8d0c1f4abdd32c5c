"""Shell scripts that run beside nginx in its containers: never run by the program."""
