"""The webhook paths under the public URL (kept apart: renew needs them, not starlette)."""

CALENDAR_PATH = "/google/calendar"
GRAPH_PATH = "/graph/notify"
GRAPH_LIFECYCLE_PATH = "/graph/lifecycle"
