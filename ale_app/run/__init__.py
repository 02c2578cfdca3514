"""Running an analysis: the declared steps, the workflow that runs them, ``--verify``.

May import: every wing below it (outputs, present, result, stats, inputs, spec, process) and
the base modules; never ale_app.cli.
"""
