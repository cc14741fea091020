"""Delivery of a run folder by mail (DESIGN.md, "Mail")."""
