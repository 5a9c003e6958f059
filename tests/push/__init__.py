"""Tests for the push-notification senders."""
