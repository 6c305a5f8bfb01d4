"""Benchmarks of rpkit against the baselines it replaces (issue 5).

Run ``python -m benchmarks --events 100000 --events 1000000``: it builds (and
caches under ``benchmarks/.cache/``) a demo history of each size, measures each
operation and its baseline side by side, each repetition in its own process
(so peak memory is that operation's), prints a table of medians and ratios and
writes it as JSON to ``benchmarks/results/``. These are scripts, not tests:
``tests/test_benchmarks_smoke.py`` only checks that a tiny run reports every
measurement.
"""
