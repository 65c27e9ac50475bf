"""Calibrated scenarios of `lgsp-sim report`: one JSON file per province report (data only)."""
