"""`mailtui …`: argument parsing and printing only; launches the TUI lazily."""
