"""``python -m ale_app`` runs the command line."""

from ale_app.cli import script

script()
