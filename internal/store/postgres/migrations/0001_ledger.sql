-- The ledger: parties, invoices and the dated facts about them. Current
-- state lives in the main tables; every change also appends a revision, so
-- nothing is lost when a row is updated. UUID keys, no sequences: the schema
-- distributes by key on CockroachDB, YugabyteDB and Citus.

CREATE TABLE secrets (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE parties (
    id              uuid PRIMARY KEY,
    display_name    text NOT NULL,
    kind            text NOT NULL,
    size_class      text NOT NULL,
    jurisdiction    text NOT NULL,
    registration_id text NOT NULL,
    region_code     text NOT NULL,
    industry_code   text NOT NULL,
    unverified      boolean NOT NULL,
    version         bigint NOT NULL,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    CONSTRAINT parties_registration_key UNIQUE (jurisdiction, registration_id)
);
CREATE INDEX parties_region_idx ON parties (region_code, id);

CREATE TABLE invoices (
    id                       uuid PRIMARY KEY,
    debtor_id                uuid NOT NULL REFERENCES parties (id),
    creditor_id              uuid NOT NULL REFERENCES parties (id),
    document_ref             text NOT NULL,
    contract_ref             text NOT NULL,
    currency                 text NOT NULL,
    amount                   bigint NOT NULL CHECK (amount > 0),
    contract_signed_on       date,
    issued_on                date,
    received_on              date,
    delivered_on             date,
    acceptance_required      boolean NOT NULL,
    acceptance_period_days   integer NOT NULL,
    acceptance_passed_on     date,
    settlement_confirmed_on  date,
    agreed_term_days         integer NOT NULL,
    agreed_due_date          date,
    agreed_rate_percent      text,
    agreed_rate_per_day      boolean NOT NULL,
    creditor_size_at_signing text NOT NULL,
    status                   text NOT NULL,
    due_date                 date,
    credited                 bigint NOT NULL,
    paid                     bigint NOT NULL,
    disputed                 bigint NOT NULL,
    cancelled_on             date,
    cancel_reason            text NOT NULL,
    version                  bigint NOT NULL,
    create_time              timestamptz NOT NULL,
    update_time              timestamptz NOT NULL,
    CONSTRAINT invoices_document_ref_key UNIQUE (debtor_id, document_ref),
    CONSTRAINT invoices_totals_check CHECK (credited >= 0 AND paid >= 0 AND disputed >= 0
        AND credited + paid <= amount)
);
CREATE INDEX invoices_creditor_idx ON invoices (creditor_id, id);
CREATE INDEX invoices_due_date_idx ON invoices (due_date, id);

CREATE TABLE credit_notes (
    id          uuid PRIMARY KEY,
    invoice_id  uuid NOT NULL REFERENCES invoices (id),
    amount      bigint NOT NULL CHECK (amount > 0),
    issued_on   date NOT NULL,
    reference   text NOT NULL,
    reason      text NOT NULL,
    create_time timestamptz NOT NULL
);
CREATE INDEX credit_notes_invoice_idx ON credit_notes (invoice_id, id);

CREATE TABLE payments (
    id              uuid PRIMARY KEY,
    invoice_id      uuid NOT NULL REFERENCES invoices (id),
    debtor_id       uuid NOT NULL REFERENCES parties (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    currency        text NOT NULL,
    paid_on         date NOT NULL,
    reference       text NOT NULL,
    instrument      text NOT NULL,
    maturity_on     date,
    state           text NOT NULL,
    reversed_on     date,
    reversal_reason text NOT NULL,
    version         bigint NOT NULL,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    CONSTRAINT payments_reference_key UNIQUE (debtor_id, reference)
);
CREATE INDEX payments_invoice_idx ON payments (invoice_id, id);

CREATE TABLE disputes (
    id             uuid PRIMARY KEY,
    invoice_id     uuid NOT NULL REFERENCES invoices (id),
    amount         bigint NOT NULL CHECK (amount > 0),
    reason         text NOT NULL,
    opened_on      date NOT NULL,
    state          text NOT NULL,
    resolution     text NOT NULL,
    resolved_on    date,
    comment        text NOT NULL,
    credit_note_id uuid REFERENCES credit_notes (id),
    version        bigint NOT NULL,
    create_time    timestamptz NOT NULL,
    update_time    timestamptz NOT NULL
);
CREATE INDEX disputes_invoice_idx ON disputes (invoice_id, id);

-- Every version of every party, invoice, payment and dispute, with the
-- business date it takes effect and when it was recorded.
CREATE TABLE revisions (
    resource_id   uuid NOT NULL,
    revision      bigint NOT NULL,
    resource_type text NOT NULL,
    effective_on  date,
    record_time   timestamptz NOT NULL,
    method        text NOT NULL,
    snapshot      text NOT NULL,
    PRIMARY KEY (resource_id, revision)
);

-- Idempotency keys of create requests, kept at least 24 hours.
CREATE TABLE requests (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    resource_id  uuid NOT NULL,
    create_time  timestamptz NOT NULL
);
CREATE INDEX requests_create_time_idx ON requests (create_time);
