"""`python -m service.cli …` runs the `promptcut` command (the tests run it this way)."""

from service.cli import main

main()
