import sys

from components.fieldbus_gateway import main

sys.exit(main())
