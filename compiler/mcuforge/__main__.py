"""`python -m mcuforge ...`: the same command line as the `mcuforge` console script."""
import sys

from .cli import main

sys.exit(main())
