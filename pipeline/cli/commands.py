"""Core commands: check, list, build, dev (more register themselves from sibling modules)."""
