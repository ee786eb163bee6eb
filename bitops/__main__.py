import sys

from bitops.cli import main

sys.exit(main())
