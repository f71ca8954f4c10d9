"""Fixtures shared by every test directory (session-scoped ones start only when a test asks)."""

pytest_plugins = ["tests.support.images", "tests.support.build"]
