"""Raw layer: byte-perfect capture of every source line, plus a file manifest."""
