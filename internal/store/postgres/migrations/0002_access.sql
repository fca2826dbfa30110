-- Access control and the audit trail.

CREATE TABLE api_keys (
    id                  uuid PRIMARY KEY,
    prefix              text NOT NULL,
    secret_hash         bytea NOT NULL,
    role                text NOT NULL,
    description         text NOT NULL,
    parties             text NOT NULL,
    remit_jurisdiction  text NOT NULL,
    remit_region_prefix text NOT NULL,
    portal              text NOT NULL,
    client_cert_sha256  text NOT NULL,
    create_time         timestamptz NOT NULL,
    expire_time         timestamptz,
    revoke_time         timestamptz,
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);

-- Suppliers that let a complaint portal act for them.
CREATE TABLE portal_grants (
    portal      text NOT NULL,
    creditor_id uuid NOT NULL REFERENCES parties (id),
    create_time timestamptz NOT NULL,
    PRIMARY KEY (portal, creditor_id)
);
CREATE INDEX portal_grants_creditor_idx ON portal_grants (creditor_id);

-- The audit trail: one hash chain per debtor, appended in the transaction of
-- the change it records. Never updated or deleted by the service.
CREATE TABLE audit_events (
    chain_id        uuid NOT NULL,
    seq             bigint NOT NULL,
    event_id        uuid NOT NULL,
    debtor_id       uuid,
    creditor_id     uuid,
    record_time     timestamptz NOT NULL,
    actor           text NOT NULL,
    method          text NOT NULL,
    resource_type   text NOT NULL,
    resource_id     uuid NOT NULL,
    revision        bigint NOT NULL,
    snapshot_digest text NOT NULL,
    changes         text NOT NULL,
    prev_hash       text NOT NULL,
    hash            text NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE UNIQUE INDEX audit_events_event_idx ON audit_events (event_id);
CREATE INDEX audit_events_creditor_idx ON audit_events (creditor_id, event_id);

-- Signed statements of every chain head.
CREATE TABLE audit_checkpoints (
    id           uuid PRIMARY KEY,
    create_time  timestamptz NOT NULL,
    chain_count  bigint NOT NULL,
    event_count  bigint NOT NULL,
    heads_digest text NOT NULL,
    heads        text NOT NULL,
    statement    text NOT NULL,
    signature    text NOT NULL,
    public_key   text NOT NULL
);
CREATE INDEX audit_checkpoints_time_idx ON audit_checkpoints (create_time);
