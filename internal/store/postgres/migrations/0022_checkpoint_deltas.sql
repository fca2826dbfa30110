-- A checkpoint may keep only the heads that differ from an earlier whole
-- one, its base (see PutCheckpoint): a whole one names every chain's head,
-- megabytes on a large ledger, every few minutes. NULL: this one is whole,
-- as every checkpoint before this migration is.
ALTER TABLE audit_checkpoints ADD COLUMN base_id uuid;
