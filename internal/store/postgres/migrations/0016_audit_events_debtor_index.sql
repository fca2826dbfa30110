-- A debtor's change feed reads its events after a cursor in event_id
-- order. The creditor's feed had its index (creditor_id, event_id); the
-- debtor's walked the whole log in event_id order, filtering on the
-- debtor, so a new reader with no cursor scanned every event of every
-- debtor.
CREATE INDEX audit_events_debtor_idx ON audit_events (debtor_id, event_id);
