"""followup: draft your follow-ups after every meeting."""

__version__ = "0.1.0"
