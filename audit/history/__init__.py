"""Month-over-month history kept in SQLite."""
