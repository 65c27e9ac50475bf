"""Benchmarks that print figures (never timed tests): `lgsp-sim bench ...`."""
