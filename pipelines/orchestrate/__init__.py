"""orchestrate."""
