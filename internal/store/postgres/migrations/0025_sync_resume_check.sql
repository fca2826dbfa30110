-- What the client computed over a session's records up to the acknowledged
-- sequence (arrearsctl: "SEQ:HASH", a hash chain of the rows as read), kept
-- with it and given back when the session is opened again, so that a
-- client resuming by position can tell the records it would skip are the
-- ones the session took. Empty for sessions whose client sent none.
ALTER TABLE sync_sessions ADD COLUMN resume_check text NOT NULL DEFAULT '';
