"""Consensus algorithms, one module per task family."""
