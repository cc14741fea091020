"""What the user configures: the TOML file (`settings`), its [mail] section (`mail`) and the
range checks every configured number goes through (`values`)."""
