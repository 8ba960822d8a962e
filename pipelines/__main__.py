"""``python -m pipelines ...``: the project's single command-line entry point."""

from pipelines.cli import main

raise SystemExit(main())
