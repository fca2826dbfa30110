-- SQLite form of the PostgreSQL migration of the same number.
-- Access control and the audit trail.

CREATE TABLE api_keys (
    id                  TEXT PRIMARY KEY,
    prefix              TEXT NOT NULL,
    secret_hash         BLOB NOT NULL,
    role                TEXT NOT NULL,
    description         TEXT NOT NULL,
    parties             TEXT NOT NULL,
    remit_jurisdiction  TEXT NOT NULL,
    remit_region_prefix TEXT NOT NULL,
    portal              TEXT NOT NULL,
    client_cert_sha256  TEXT NOT NULL,
    create_time         INTEGER NOT NULL,
    expire_time         INTEGER,
    revoke_time         INTEGER,
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);

-- Suppliers that let a complaint portal act for them.
CREATE TABLE portal_grants (
    portal      TEXT NOT NULL,
    creditor_id TEXT NOT NULL REFERENCES parties (id),
    create_time INTEGER NOT NULL,
    PRIMARY KEY (portal, creditor_id)
);
CREATE INDEX portal_grants_creditor_idx ON portal_grants (creditor_id);

-- The audit trail: one hash chain per debtor, appended in the transaction of
-- the change it records. Never updated or deleted by the service.
CREATE TABLE audit_events (
    chain_id        TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    debtor_id       TEXT,
    creditor_id     TEXT,
    record_time     INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    method          TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    revision        INTEGER NOT NULL,
    snapshot_digest TEXT NOT NULL,
    changes         TEXT NOT NULL,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE UNIQUE INDEX audit_events_event_idx ON audit_events (event_id);
CREATE INDEX audit_events_creditor_idx ON audit_events (creditor_id, event_id);

-- Signed statements of every chain head.
CREATE TABLE audit_checkpoints (
    id           TEXT PRIMARY KEY,
    create_time  INTEGER NOT NULL,
    chain_count  INTEGER NOT NULL,
    event_count  INTEGER NOT NULL,
    heads_digest TEXT NOT NULL,
    heads        TEXT NOT NULL,
    statement    TEXT NOT NULL,
    signature    TEXT NOT NULL,
    public_key   TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_time_idx ON audit_checkpoints (create_time);
