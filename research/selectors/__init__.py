"""Reads of research state: ``discovery`` (hubs, assignments) and ``notebooks`` (the store)."""
