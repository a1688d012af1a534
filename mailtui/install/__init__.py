"""Running an install: the plan, the detached worker, install state on disk, preflight, rollback."""
