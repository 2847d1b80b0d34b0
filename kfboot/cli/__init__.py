"""Command-line interface: typer commands and terminal rendering; no cluster logic lives here."""
