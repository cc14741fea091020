"""Standard-library leaves every stage may use: errors and exit codes, atomic files, signal
handling, console output, value coercion and the JSON type aliases. Nothing here knows the
product."""
