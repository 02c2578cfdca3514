"""Outputs: the registry of every file a run writes, the output folder (locks, atomic
writes), provenance.

May import: ale_app.present, ale_app.result, the wings below them and the base modules;
never ale_app.run or ale_app.cli.
"""
