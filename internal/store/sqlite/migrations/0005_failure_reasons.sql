-- Failure reasons (webhook.FailureReason): each attempt's, and on the
-- delivery its last attempt's, so dead letters can be counted and replayed
-- by cause. Empty means a success, no attempt yet, or an attempt recorded
-- before reasons were.
ALTER TABLE attempts ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN last_reason TEXT NOT NULL DEFAULT '';

-- The dead letters that died before this migration get the reason their
-- last error's text shows (those texts are stable), so that they can be
-- grouped too. Attempts keep an empty reason: only the dead are counted.
UPDATE deliveries SET last_reason = CASE
    WHEN last_error LIKE 'HTTP 3%' THEN 'http_3xx'
    WHEN last_error LIKE 'HTTP 4%' THEN 'http_4xx'
    WHEN last_error LIKE 'HTTP 5%' THEN 'http_5xx'
    WHEN last_error LIKE 'timeout after %' THEN 'timeout'
    WHEN last_error LIKE 'dns: %' THEN 'dns'
    WHEN last_error = 'connection refused' THEN 'connect_refused'
    WHEN last_error = 'connection reset by receiver' THEN 'connection_reset'
    WHEN last_error LIKE '%destination address is not allowed%' THEN 'ssrf_refused'
    WHEN last_error LIKE 'destination % is no longer configured' THEN 'destination_removed'
    WHEN last_error LIKE '%tls: %' THEN 'tls'
    WHEN last_error LIKE 'network: %' THEN 'network'
    ELSE 'other' END
WHERE status = 'permanent_failure';

-- Dead letters by reason (counts, and a replay of one reason paged by id)
-- and by id alone (a replay of every reason), reading only dead rows.
CREATE INDEX deliveries_dead_reason ON deliveries (last_reason, id)
    WHERE status = 'permanent_failure';
CREATE INDEX deliveries_dead_id ON deliveries (id)
    WHERE status = 'permanent_failure';
