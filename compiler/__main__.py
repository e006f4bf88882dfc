"""`python -m rpc.compiler` runs the `rpc` command line."""

import sys

from rpc.compiler.cli import main

sys.exit(main())
