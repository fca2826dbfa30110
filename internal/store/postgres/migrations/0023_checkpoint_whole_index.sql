-- The newest whole checkpoint by a key, which a new one is stored against
-- (see 0022). Apart from 0022: CockroachDB builds no partial index on a
-- column added in the same transaction.
CREATE INDEX audit_checkpoints_whole_idx ON audit_checkpoints (public_key, create_time, id) WHERE base_id IS NULL;
