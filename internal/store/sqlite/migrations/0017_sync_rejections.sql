-- SQLite form of the PostgreSQL migration 0019.
-- The records a sync session rejected, written with their chunk. A chunk's
-- answer can be lost after it committed (the client killed, the connection
-- dropped); the session then resumes after those records, and a client
-- finds here the rejections it never received.
CREATE TABLE sync_rejections (
    debtor_id    TEXT NOT NULL,
    session      TEXT NOT NULL,
    sequence     INTEGER NOT NULL,
    document_ref TEXT NOT NULL,
    problems     TEXT NOT NULL, -- JSON: [{"field": ..., "description": ...}]
    PRIMARY KEY (debtor_id, session, sequence)
);
