"""Remediation: plans from open findings, generated scripts, safe apply."""
