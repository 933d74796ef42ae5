"""Pingan (平安): one command center for grid, 12345 and 110 — city-level social governance."""

__version__ = "0.1.0"
