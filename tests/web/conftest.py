"""The browser fixture for the guest pages' tests (tests/browser.py)."""

from tests.browser import browser

__all__ = ["browser"]
