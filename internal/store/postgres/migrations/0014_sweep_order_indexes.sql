-- The sweepers read due rows a batch at a time in (next_check, id) order.
-- An index on next_check alone gave them in date order only, so each batch
-- fetched and sorted every due row to find its first 200: a sweep after a
-- bulk load of a million overdue invoices spent 834 µs of PostgreSQL CPU
-- per invoice, ten minutes in all. With the id in the key, the index
-- returns each batch in order.
CREATE INDEX escalations_due_idx ON escalations (next_check, invoice_id);
DROP INDEX escalations_next_check_idx;
CREATE INDEX complaints_due_idx ON complaints (next_check, id);
DROP INDEX complaints_next_check_idx;
