"""`followup demo`: a realistic workspace on open formats, and one cycle run over it."""
