"""The `newscrawl` command line (also `python -m crawler`): `main` parses and dispatches,
`inspect` holds the inspection commands (history, show, diff, stories, runs, status),
`cluster` the `newscrawl cluster` command. This file imports nothing, so a command
module never imports the command line back through its package."""
