"""The command line: parses, calls the library, renders. No business logic."""

from netflix_elt.cli.main import cli, main

__all__ = ["cli", "main"]
