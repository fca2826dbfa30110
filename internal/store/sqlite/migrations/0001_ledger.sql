-- SQLite form of the PostgreSQL schema (same tables, same names); dates
-- are YYYY-MM-DD text and timestamps Unix microseconds.
-- The ledger: parties, invoices and the dated facts about them. Current
-- state lives in the main tables; every change also appends a revision, so
-- nothing is lost when a row is updated. UUID keys, no sequences: the schema
-- distributes by key on CockroachDB, YugabyteDB and Citus.

CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE parties (
    id              TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    size_class      TEXT NOT NULL,
    jurisdiction    TEXT NOT NULL,
    registration_id TEXT NOT NULL,
    region_code     TEXT NOT NULL,
    industry_code   TEXT NOT NULL,
    unverified      INTEGER NOT NULL,
    version         INTEGER NOT NULL,
    create_time     INTEGER NOT NULL,
    update_time     INTEGER NOT NULL,
    CONSTRAINT parties_registration_key UNIQUE (jurisdiction, registration_id)
);
CREATE INDEX parties_region_idx ON parties (region_code, id);

CREATE TABLE invoices (
    id                       TEXT PRIMARY KEY,
    debtor_id                TEXT NOT NULL REFERENCES parties (id),
    creditor_id              TEXT NOT NULL REFERENCES parties (id),
    document_ref             TEXT NOT NULL,
    contract_ref             TEXT NOT NULL,
    currency                 TEXT NOT NULL,
    amount                   INTEGER NOT NULL CHECK (amount > 0),
    contract_signed_on       TEXT,
    issued_on                TEXT,
    received_on              TEXT,
    delivered_on             TEXT,
    acceptance_required      INTEGER NOT NULL,
    acceptance_period_days   INTEGER NOT NULL,
    acceptance_passed_on     TEXT,
    settlement_confirmed_on  TEXT,
    agreed_term_days         INTEGER NOT NULL,
    agreed_due_date          TEXT,
    agreed_rate_percent      TEXT,
    agreed_rate_per_day      INTEGER NOT NULL,
    creditor_size_at_signing TEXT NOT NULL,
    status                   TEXT NOT NULL,
    due_date                 TEXT,
    credited                 INTEGER NOT NULL,
    paid                     INTEGER NOT NULL,
    disputed                 INTEGER NOT NULL,
    cancelled_on             TEXT,
    cancel_reason            TEXT NOT NULL,
    version                  INTEGER NOT NULL,
    create_time              INTEGER NOT NULL,
    update_time              INTEGER NOT NULL,
    CONSTRAINT invoices_document_ref_key UNIQUE (debtor_id, document_ref),
    CONSTRAINT invoices_totals_check CHECK (credited >= 0 AND paid >= 0 AND disputed >= 0
        AND credited + paid <= amount)
);
CREATE INDEX invoices_creditor_idx ON invoices (creditor_id, id);
CREATE INDEX invoices_due_date_idx ON invoices (due_date, id);

CREATE TABLE credit_notes (
    id          TEXT PRIMARY KEY,
    invoice_id  TEXT NOT NULL REFERENCES invoices (id),
    amount      INTEGER NOT NULL CHECK (amount > 0),
    issued_on   TEXT NOT NULL,
    reference   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    create_time INTEGER NOT NULL
);
CREATE INDEX credit_notes_invoice_idx ON credit_notes (invoice_id, id);

CREATE TABLE payments (
    id              TEXT PRIMARY KEY,
    invoice_id      TEXT NOT NULL REFERENCES invoices (id),
    debtor_id       TEXT NOT NULL REFERENCES parties (id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    paid_on         TEXT NOT NULL,
    reference       TEXT NOT NULL,
    instrument      TEXT NOT NULL,
    maturity_on     TEXT,
    state           TEXT NOT NULL,
    reversed_on     TEXT,
    reversal_reason TEXT NOT NULL,
    version         INTEGER NOT NULL,
    create_time     INTEGER NOT NULL,
    update_time     INTEGER NOT NULL,
    CONSTRAINT payments_reference_key UNIQUE (debtor_id, reference)
);
CREATE INDEX payments_invoice_idx ON payments (invoice_id, id);

CREATE TABLE disputes (
    id             TEXT PRIMARY KEY,
    invoice_id     TEXT NOT NULL REFERENCES invoices (id),
    amount         INTEGER NOT NULL CHECK (amount > 0),
    reason         TEXT NOT NULL,
    opened_on      TEXT NOT NULL,
    state          TEXT NOT NULL,
    resolution     TEXT NOT NULL,
    resolved_on    TEXT,
    comment        TEXT NOT NULL,
    credit_note_id TEXT REFERENCES credit_notes (id),
    version        INTEGER NOT NULL,
    create_time    INTEGER NOT NULL,
    update_time    INTEGER NOT NULL
);
CREATE INDEX disputes_invoice_idx ON disputes (invoice_id, id);

-- Every version of every party, invoice, payment and dispute, with the
-- business date it takes effect and when it was recorded.
CREATE TABLE revisions (
    resource_id   TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    resource_type TEXT NOT NULL,
    effective_on  TEXT,
    record_time   INTEGER NOT NULL,
    method        TEXT NOT NULL,
    snapshot      TEXT NOT NULL,
    PRIMARY KEY (resource_id, revision)
);

-- Idempotency keys of create requests, kept at least 24 hours.
CREATE TABLE requests (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    resource_id  TEXT NOT NULL,
    create_time  INTEGER NOT NULL
);
CREATE INDEX requests_create_time_idx ON requests (create_time);
