"""mailtui: the install and management engine (never imports Textual)."""

__version__ = "0.1.0"
