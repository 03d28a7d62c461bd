"""Entry points: CLI (now), HTTP API and jobs (later)."""
