"""Measurements for reports (not tests): each module runs as ``python -m ssl_engine.bench.<name>``."""
