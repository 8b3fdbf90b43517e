"""Command-line tools of `python -m vanguard` (each module has a `main(argv)`)."""
