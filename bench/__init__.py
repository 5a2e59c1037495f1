"""Benchmarks: `make bench` runs `python -m bench.run`, which measures the shop's hot paths against ceilings
measured in the same run on the same machine and writes BENCHMARKS.md. Nothing here is a test."""
