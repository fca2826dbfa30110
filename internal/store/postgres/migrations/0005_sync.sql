-- Bulk payables sync: each named session of a debtor remembers the highest
-- record sequence it committed, in the same transaction as the records, so a
-- client that reconnects resumes exactly after it.

CREATE TABLE sync_sessions (
    debtor_id    uuid NOT NULL REFERENCES parties (id),
    session      text NOT NULL,
    acked_seq    bigint NOT NULL,
    records      bigint NOT NULL,
    version      bigint NOT NULL,
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    PRIMARY KEY (debtor_id, session)
);
