"""Fakes of outside services that the tests run locally."""
