"""Shell scripts that run in the ACME (lego) container and beside nginx: never run by the program."""
