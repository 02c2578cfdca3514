"""``python -m ale_app`` runs the command line."""

import sys

from ale_app.cli import main

sys.exit(main())
