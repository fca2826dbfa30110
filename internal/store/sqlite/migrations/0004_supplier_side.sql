-- SQLite form of the PostgreSQL migration of the same number.
-- The supplier's side: claims of unreported debts, contests of a debtor's
-- records, complaints and their timelines. Each row keeps the record as JSON
-- (data) beside the columns that are queried and indexed; every change also
-- appends a revision and an audit event, like the rest of the ledger.

ALTER TABLE invoices ADD COLUMN contested INTEGER NOT NULL DEFAULT 0;

CREATE TABLE claims (
    id          TEXT PRIMARY KEY,
    debtor_id   TEXT NOT NULL REFERENCES parties (id),
    creditor_id TEXT NOT NULL REFERENCES parties (id),
    state       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX claims_debtor_idx ON claims (debtor_id, id);
CREATE INDEX claims_creditor_idx ON claims (creditor_id, id);

CREATE TABLE contests (
    id          TEXT PRIMARY KEY,
    invoice_id  TEXT NOT NULL REFERENCES invoices (id),
    debtor_id   TEXT NOT NULL,
    creditor_id TEXT NOT NULL,
    state       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX contests_invoice_idx ON contests (invoice_id, id);

CREATE TABLE complaints (
    id          TEXT PRIMARY KEY,
    debtor_id   TEXT NOT NULL REFERENCES parties (id),
    creditor_id TEXT NOT NULL REFERENCES parties (id),
    state       TEXT NOT NULL,
    next_check  TEXT,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX complaints_debtor_idx ON complaints (debtor_id, id);
CREATE INDEX complaints_creditor_idx ON complaints (creditor_id, id);
CREATE INDEX complaints_next_check_idx ON complaints (next_check);

CREATE TABLE complaint_events (
    id           TEXT PRIMARY KEY,
    complaint_id TEXT NOT NULL REFERENCES complaints (id),
    data         TEXT NOT NULL
);
CREATE INDEX complaint_events_complaint_idx ON complaint_events (complaint_id, id);
