"""The Fibonacci Lambda function, handler string ``lambda_handler.handler``.

Standard library only, and nothing from ``fibtrigger``: the deployment zip holds just this package.
"""

from .function import handler

__all__ = ["handler"]
