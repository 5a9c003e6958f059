"""Momento Server: the self-hostable backend of Momento, shared event photos with a timed reveal."""

__version__ = "0.1.0"
