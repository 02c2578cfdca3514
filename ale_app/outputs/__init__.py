"""Outputs: the registry of every file a run writes, the output folder (locks, atomic
writes), provenance, and the interface descriptor (Boutiques) built from the registry and
the parser the command line hands in.

May import: ale_app.present, ale_app.result, the wings below them and the base modules;
never ale_app.run or ale_app.cli.
"""
