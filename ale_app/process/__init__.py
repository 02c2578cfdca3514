"""The process: CPUs, the one executor (serial, threads, processes, dask), signals and the
exit path that the command line sets up.

May import: the base modules (errors, constants, digests) only.
"""
