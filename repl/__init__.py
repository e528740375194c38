"""The fedq command (REPL arrives with issue 3)."""
