"""`python -m audit` behaves like the `ovh-license-audit` console script."""

import sys

from audit.cli import main

sys.exit(main())
