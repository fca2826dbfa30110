-- SQLite form of the PostgreSQL migration of the same number.
-- Who raised a dispute: the debtor's side or the supplier's. Only that side
-- withdraws it; only the supplier credits it; a regulator rejects it.
ALTER TABLE disputes ADD COLUMN opened_by TEXT NOT NULL DEFAULT '';
