"""Benchmarks and load tests of the service (not part of the installed package)."""
