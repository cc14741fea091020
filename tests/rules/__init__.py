"""Rule cases (cases/*.toml) and the registry."""
