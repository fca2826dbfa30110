-- SQLite form of the PostgreSQL migration of the same number.
-- The latest date from which a correction of an invoice's fields takes
-- effect: judging the invoice as of an earlier date uses the fields as they
-- stood then.
ALTER TABLE invoices ADD COLUMN corrected_on TEXT;
