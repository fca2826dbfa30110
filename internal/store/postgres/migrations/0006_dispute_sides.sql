-- Who raised a dispute: the debtor's side or the supplier's. Only that side
-- withdraws it; only the supplier credits it; a regulator rejects it.
ALTER TABLE disputes ADD COLUMN opened_by text NOT NULL DEFAULT '';
