"""`python -m kfboot` runs the CLI."""

from kfboot.cli.app import main

main()
