"""Local emulation: the Lambda service, its runtime and SigV4 check, and the private servers.

Nothing in the core (``fibtrigger`` outside ``local`` and ``aws``) imports this package.
"""
