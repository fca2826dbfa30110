-- SQLite form of the PostgreSQL migration 0023.
-- The newest whole checkpoint by a key, which a new one is stored against
-- (see 0020).
CREATE INDEX audit_checkpoints_whole_idx ON audit_checkpoints (public_key, create_time, id) WHERE base_id IS NULL;
