"""Rules and thresholds that more than one part of ale-app relies on, named once."""

#: Below this many experiments, ALE's voxelwise inference is not reliable (Eickhoff et al.
#: 2016); the descriptive report says so, and the inferential mode refuses to run.
MIN_EXPERIMENTS_FOR_INFERENCE = 17

#: The largest sample size (subjects of one experiment) the spec and the inputs accept:
#: generous for any real study, and far below where a kernel width could misbehave.
MAX_SAMPLE_SIZE = 1_000_000

#: Below this many Monte Carlo iterations the FWE p-values are coarse: the run logs it and the
#: report's paragraph says so.
MIN_ITERATIONS = 5000
