"""ale-app: activation likelihood estimation (ALE) meta-analysis, descriptive or inferential.

Importing this package does no work: no logging set-up and no heavy imports, so that
``ale-app --version`` stays fast.
"""

__version__ = "0.1.0"
CODE_URL = "https://github.com/ale-app/ale-app"

__all__ = ["__version__", "CODE_URL"]
