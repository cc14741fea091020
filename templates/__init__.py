"""Jinja2 templates for the reports (shipped inside the package as audit.templates)."""
