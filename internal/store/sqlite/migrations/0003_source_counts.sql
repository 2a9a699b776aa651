-- Per-source counts by status (GET /api/sources, the dashboard's filter)
-- read only this index: a million events count in a fraction of a second
-- instead of seconds.
CREATE INDEX events_source_status ON events (source, status);
