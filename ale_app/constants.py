"""Rules and thresholds that more than one part of ale-app relies on, named once."""

#: Below this many experiments, ALE's voxelwise inference is not reliable (Eickhoff et al.
#: 2016); the descriptive report says so, and the inferential mode refuses to run.
MIN_EXPERIMENTS_FOR_INFERENCE = 17
