"""Delivery of a run folder by mail (docs/DESIGN.md, "Mail")."""
