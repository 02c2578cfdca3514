"""ale-app: activation likelihood estimation (ALE) meta-analysis, descriptive or inferential.

The package is laid out in wings, one per concern (spec, inputs, stats, run, outputs,
present, process), each saying in its docstring what it may import; ``tests/test_layers.py``
holds them to it.

Importing this package does no work: no logging set-up and no heavy imports, so that
``ale-app --version`` stays fast.
"""

__version__ = "0.1.0"
CODE_URL = "https://github.com/ale-app/ale-app"

__all__ = ["__version__", "CODE_URL"]
