"""Structural validation of distribution archives: ZIP and tar walkers, member names, and the
wheel and sdist rules built on them."""
