"""The fedq command: the REPL, one-shot -c/-f runs, output formats, completion and the demo."""
