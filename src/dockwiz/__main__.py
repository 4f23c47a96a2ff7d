import sys

from dockwiz.cli import main

sys.exit(main())
