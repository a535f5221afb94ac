"""`python -m deskpi`: the same as the `deskpi` command."""
import sys

from deskpi.cli.main import main

sys.exit(main())
