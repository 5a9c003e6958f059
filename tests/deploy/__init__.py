"""Deployment tests: the shipped commands run as separate processes, as an operator runs them."""
