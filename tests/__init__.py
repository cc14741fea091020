"""The test suite: `pytest -m "not slow"` for the quick part, `make test` for all of it."""
