"""Benchmark harnesses behind `promptcut bench`, `bench-neural` and `bench-service`: per-stage timings, random-init
model builders, the API on a loopback port. Nothing on a cut's path imports this package."""
