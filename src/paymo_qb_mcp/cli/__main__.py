"""`python -m paymo_qb_mcp.cli` runs the command line."""

import sys

from paymo_qb_mcp.cli import main

sys.exit(main())
