-- The business date of the revision an event records, which its hash now
-- covers: which correction counts on a past date turns on the revision's
-- effective_on, and verify compares the two. Events written before this
-- migration have none (NULL) and hash as they did.
ALTER TABLE audit_events ADD COLUMN effective_on date;
