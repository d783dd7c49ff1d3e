"""The pure core: who is worth a follow-up, what to write, when to block time.

No I/O here except reading Jinja2 templates, and no clock: `now` is always passed in.
"""
