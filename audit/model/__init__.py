"""Typed records every stage shares: they import nothing above the leaf modules."""
