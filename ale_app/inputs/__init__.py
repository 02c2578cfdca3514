"""Inputs: readers of every format into one studyset, and checks that collect every problem.

May import: ale_app.spec, ale_app.process, the base modules (errors, constants, digests) and this wing.
"""
