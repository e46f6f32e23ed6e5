"""Builders, fakes and fixtures the test folders share."""
