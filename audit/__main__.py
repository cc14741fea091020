"""`python -m audit` behaves like the `ovh-license-audit` console script."""

import sys

from audit.cli.main import main

sys.exit(main())
