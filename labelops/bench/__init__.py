"""Benchmarks that run the real services against the configured database.

Run `python -m labelops.bench --help`. Kept out of the test suite: they are
slow on purpose and measure, they do not assert.
"""
