"""Collect stage: the only code that talks to the OVHcloud API."""
