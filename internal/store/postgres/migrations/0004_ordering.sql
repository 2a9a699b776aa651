-- Ordered delivery (docs/ordering.md). ordering_key is NULL for a delivery
-- of an unordered destination; '' is an ordered destination's one sequence
-- (or the fallback of events whose key could not be computed).
-- ordering_seq is the delivery's position: one value of
-- deliveries_ordering_seq per inserted batch, times 2^20, plus the
-- delivery's place in the batch. A batch that starts after another one
-- committed draws a larger value, so positions follow the order in which
-- hookd answered 202 (docs/ordering.md says what this means exactly).
ALTER TABLE deliveries ADD COLUMN ordering_key text;
ALTER TABLE deliveries ADD COLUMN ordering_seq bigint;
CREATE SEQUENCE deliveries_ordering_seq;
-- The unfinished deliveries of each key, in position order: a claim finds
-- a delivery's predecessor, and a finished delivery its successor, with one
-- probe. Finished and unordered rows stay out of it.
CREATE INDEX deliveries_ordering ON deliveries (destination, ordering_key, ordering_seq)
    WHERE ordering_key IS NOT NULL AND status IN ('pending', 'failed');
