"""Evaluate stage, pure: the snapshot read once into a typed inventory, every rule over it,
the exceptions register applied, the figures every report quotes and findings.json's content.
"""
