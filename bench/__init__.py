"""Qingfeng's benchmarks: `make bench` or `python -m bench [NAME] [--quick]` (docs/benchmarks.md)."""
