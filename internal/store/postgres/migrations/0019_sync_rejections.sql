-- The records a sync session rejected, written with their chunk. A chunk's
-- answer can be lost after it committed (the client killed, the connection
-- dropped); the session then resumes after those records, and a client
-- finds here the rejections it never received. Keyed by debtor first, as
-- the session is.
CREATE TABLE sync_rejections (
    debtor_id    uuid NOT NULL,
    session      text NOT NULL,
    sequence     bigint NOT NULL,
    document_ref text NOT NULL,
    problems     text NOT NULL, -- JSON: [{"field": ..., "description": ...}]
    PRIMARY KEY (debtor_id, session, sequence)
);
