import sys

from tfgancomp.cli import main

sys.exit(main())
