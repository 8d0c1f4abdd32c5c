"""Shell scripts that run in the ACME (lego) container: never run by the program."""
