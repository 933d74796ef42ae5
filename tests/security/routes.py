"""Routes the generic route walkers (scope matrix, HTML escaping) cannot call, each with the reason."""

from __future__ import annotations

# Endpoints whose response never ends (server-sent events): a plain request would wait forever.
# Their data comes from the same scoped queries as the map layer (/web/api/map-cases), which is walked.
STREAMING: dict[str, str] = {
    "/web/api/live": "server-sent event stream (never ends); same scoped queries as /web/api/map-cases",
}
