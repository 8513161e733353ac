"""``python -m classifier`` runs the ``triage`` command."""

import sys

from classifier.frontends.cli import main

sys.exit(main())
