"""Pure renderers: typed context in, exact file text out (run by the program, at deploy time)."""
