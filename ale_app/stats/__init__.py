"""The numbers, with no file IO: ALE, jackknife, Monte Carlo nulls, FWE clusters, labels, the
ALE subtraction (two-group contrast).

``nimare_adapter`` is the only module that touches NiMARE's internals.
May import: ale_app.spec, ale_app.process, the base modules and this wing; never inputs
(a step hands it the studyset), presentation, outputs or run.
"""
