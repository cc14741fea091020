"""Standard-library leaves every stage may use: errors and exit codes, atomic files, signal
handling, console output, value coercion, the JSON type aliases, masking secrets and the
one-line end of an unexpected error (exit 5). Nothing here knows the product."""
