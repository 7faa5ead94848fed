import sys

from edgeferry.cli import main

sys.exit(main())
