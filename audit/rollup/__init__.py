"""Several accounts in one report: their processes, the roll-up of their run folders, its mail."""
