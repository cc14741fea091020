"""`make bench`: speed and memory measured against references, printed as ratios."""
