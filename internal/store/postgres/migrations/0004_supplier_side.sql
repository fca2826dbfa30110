-- The supplier's side: claims of unreported debts, contests of a debtor's
-- records, complaints and their timelines. Each row keeps the record as JSON
-- (data) beside the columns that are queried and indexed; every change also
-- appends a revision and an audit event, like the rest of the ledger.

ALTER TABLE invoices ADD COLUMN contested integer NOT NULL DEFAULT 0;

CREATE TABLE claims (
    id          uuid PRIMARY KEY,
    debtor_id   uuid NOT NULL REFERENCES parties (id),
    creditor_id uuid NOT NULL REFERENCES parties (id),
    state       text NOT NULL,
    version     bigint NOT NULL,
    data        text NOT NULL
);
CREATE INDEX claims_debtor_idx ON claims (debtor_id, id);
CREATE INDEX claims_creditor_idx ON claims (creditor_id, id);

CREATE TABLE contests (
    id          uuid PRIMARY KEY,
    invoice_id  uuid NOT NULL REFERENCES invoices (id),
    debtor_id   uuid NOT NULL,
    creditor_id uuid NOT NULL,
    state       text NOT NULL,
    version     bigint NOT NULL,
    data        text NOT NULL
);
CREATE INDEX contests_invoice_idx ON contests (invoice_id, id);

CREATE TABLE complaints (
    id          uuid PRIMARY KEY,
    debtor_id   uuid NOT NULL REFERENCES parties (id),
    creditor_id uuid NOT NULL REFERENCES parties (id),
    state       text NOT NULL,
    next_check  date,
    version     bigint NOT NULL,
    data        text NOT NULL
);
CREATE INDEX complaints_debtor_idx ON complaints (debtor_id, id);
CREATE INDEX complaints_creditor_idx ON complaints (creditor_id, id);
CREATE INDEX complaints_next_check_idx ON complaints (next_check);

CREATE TABLE complaint_events (
    id           uuid PRIMARY KEY,
    complaint_id uuid NOT NULL REFERENCES complaints (id),
    data         text NOT NULL
);
CREATE INDEX complaint_events_complaint_idx ON complaint_events (complaint_id, id);
