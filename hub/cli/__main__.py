"""`python -m hub.cli`: the same as the `cclm` command."""

import sys

from hub.cli import main

sys.exit(main())
