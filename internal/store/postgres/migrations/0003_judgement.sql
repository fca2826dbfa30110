-- The arrears engine: the policy each invoice is judged under, and the
-- sweeper's escalation bookkeeping and history.

ALTER TABLE invoices ADD COLUMN policy_id text NOT NULL DEFAULT '';
ALTER TABLE invoices ADD COLUMN policy_version integer NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN policy_reason text NOT NULL DEFAULT '';

-- One row per invoice. next_check is the next date the level may change;
-- the sweeper reads only rows whose next_check has come.
CREATE TABLE escalations (
    invoice_id  uuid PRIMARY KEY REFERENCES invoices (id),
    debtor_id   uuid NOT NULL,
    creditor_id uuid NOT NULL,
    level       integer NOT NULL,
    next_check  date,
    checked_on  date,
    version     bigint NOT NULL
);
CREATE INDEX escalations_next_check_idx ON escalations (next_check);

-- Escalation changes, dated when they happened; corrected, never rewritten.
CREATE TABLE escalation_events (
    id            uuid PRIMARY KEY,
    invoice_id    uuid NOT NULL REFERENCES invoices (id),
    kind          text NOT NULL,
    from_level    integer NOT NULL,
    to_level      integer NOT NULL,
    to_level_name text NOT NULL,
    changed_on    date NOT NULL,
    corrects      uuid,
    record_time   timestamptz NOT NULL
);
CREATE INDEX escalation_events_invoice_idx ON escalation_events (invoice_id, id);
