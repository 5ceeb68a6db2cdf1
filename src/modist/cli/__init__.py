"""The ``modist`` command line: one module per subcommand."""
