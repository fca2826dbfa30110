-- SQLite form of the PostgreSQL migration of the same number.
-- The arrears engine: the policy each invoice is judged under, and the
-- sweeper's escalation bookkeeping and history.

ALTER TABLE invoices ADD COLUMN policy_id TEXT NOT NULL DEFAULT '';
ALTER TABLE invoices ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN policy_reason TEXT NOT NULL DEFAULT '';

-- One row per invoice. next_check is the next date the level may change;
-- the sweeper reads only rows whose next_check has come.
CREATE TABLE escalations (
    invoice_id  TEXT PRIMARY KEY REFERENCES invoices (id),
    debtor_id   TEXT NOT NULL,
    creditor_id TEXT NOT NULL,
    level       INTEGER NOT NULL,
    next_check  TEXT,
    checked_on  TEXT,
    version     INTEGER NOT NULL
);
CREATE INDEX escalations_next_check_idx ON escalations (next_check);

-- Escalation changes, dated when they happened; corrected, never rewritten.
CREATE TABLE escalation_events (
    id            TEXT PRIMARY KEY,
    invoice_id    TEXT NOT NULL REFERENCES invoices (id),
    kind          TEXT NOT NULL,
    from_level    INTEGER NOT NULL,
    to_level      INTEGER NOT NULL,
    to_level_name TEXT NOT NULL,
    changed_on    TEXT NOT NULL,
    corrects      TEXT,
    record_time   INTEGER NOT NULL
);
CREATE INDEX escalation_events_invoice_idx ON escalation_events (invoice_id, id);
