"""The ``wiflab`` subcommands, one module per family; ``wiflab.cli`` imports each lazily."""
