"""Simulated document-management systems (DMS fleets). Next milestone."""
