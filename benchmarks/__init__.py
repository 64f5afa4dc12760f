"""Benchmarks of paymo-qb-mcp against the in-process sandbox: scripts that measure, never tests that assert.

`python -m benchmarks.volume` is the month-end volume benchmark (docs/performance.md).
"""
