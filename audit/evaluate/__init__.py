"""Evaluate stage: pure functions from a snapshot (plus exceptions) to findings."""
