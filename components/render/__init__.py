"""Pure renderers: typed context in, exact file text out."""
