"""followup: draft your follow-ups after every meeting."""
