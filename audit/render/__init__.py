"""Render stage: turns a run folder's snapshot and findings into files people read."""
