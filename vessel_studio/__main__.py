import sys

from vessel_studio.cli import main

sys.exit(main())
