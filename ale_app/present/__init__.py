"""Presentation: figures and the report, made from the result; they return figures, text
and bytes and never decide paths.

May import: ale_app.result, ale_app.stats, ale_app.inputs, ale_app.spec, ale_app.process and
the base modules; never outputs, run or cli.
"""
