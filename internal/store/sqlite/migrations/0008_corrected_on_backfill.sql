-- SQLite form of the PostgreSQL migration of the same number.
-- Invoices corrected before migration 0007 have no corrected_on: take it
-- from their correction revisions (ISO dates sort as text).
UPDATE invoices SET corrected_on = (
    SELECT MAX(r.effective_on) FROM revisions r
    WHERE r.resource_id = invoices.id AND r.resource_type = 'invoice' AND r.method = 'UpdateInvoice')
WHERE corrected_on IS NULL AND EXISTS (
    SELECT 1 FROM revisions r
    WHERE r.resource_id = invoices.id AND r.resource_type = 'invoice' AND r.method = 'UpdateInvoice');
