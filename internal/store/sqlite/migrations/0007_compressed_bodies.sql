-- An event body stored gzip-compressed (HOOKD_COMPRESS_OVER) records its
-- original size here; NULL means the body is stored as received.
ALTER TABLE events ADD COLUMN body_size INTEGER;
