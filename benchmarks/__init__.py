"""Benchmarks: every path of fibtrigger measured side by side, as ratios.

Run with ``python -m benchmarks`` (or ``make bench``); ``--quick`` is a tiny
run that only proves the harness works. Results go to ``benchmarks/runs/`` (ignored
by git); ``--out benchmarks/results`` refreshes the committed ``latest.json`` and
``latest.md``, which docs/performance.md shows. Nothing here is imported
by the library or asserted by the tests: speed is measured, never asserted.
"""
