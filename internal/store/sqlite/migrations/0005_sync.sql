-- SQLite form of the PostgreSQL migration of the same number.
-- Bulk payables sync: each named session of a debtor remembers the highest
-- record sequence it committed, in the same transaction as the records, so a
-- client that reconnects resumes exactly after it.

CREATE TABLE sync_sessions (
    debtor_id    TEXT NOT NULL REFERENCES parties (id),
    session      TEXT NOT NULL,
    acked_seq    INTEGER NOT NULL,
    records      INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    create_time  INTEGER NOT NULL,
    update_time  INTEGER NOT NULL,
    PRIMARY KEY (debtor_id, session)
);
