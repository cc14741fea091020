"""Render stage: turns a run (its inventory, findings.json and history view, and the figures
computed from them) into files people read, one Renderer per format."""
