"""One module per `rpc` subcommand: `HELP`, `add_arguments(parser)`, `run(args, sources)`."""
