-- Ordered delivery (docs/ordering.md). ordering_key is NULL for a delivery
-- of an unordered destination; '' is an ordered destination's one sequence
-- (or the fallback of events whose key could not be computed).
-- ordering_seq is the delivery's position, given at insert from one
-- counter, so it follows the order in which events were accepted.
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN ordering_seq INTEGER;
-- The unfinished deliveries of each key, in position order: a claim finds
-- a delivery's predecessor, and a finished delivery its successor, with one
-- probe. Finished and unordered rows stay out of it.
CREATE INDEX deliveries_ordering ON deliveries (destination, ordering_key, ordering_seq)
    WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed');
-- The counter's current value (MAX) in one probe.
CREATE INDEX deliveries_ordering_seq ON deliveries (ordering_seq)
    WHERE ordering_seq IS NOT NULL;
