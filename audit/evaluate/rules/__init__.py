"""The rule catalogue: one small pure function per rule, listed in an explicit registry."""
