-- SQLite form of the PostgreSQL migration 0025: the client's check of a
-- session's records up to its acknowledged sequence.
ALTER TABLE sync_sessions ADD COLUMN resume_check text NOT NULL DEFAULT '';
