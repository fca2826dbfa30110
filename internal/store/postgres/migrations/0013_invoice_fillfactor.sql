-- Invoices are rewritten after they are written: every payment, credit,
-- dispute and correction updates the row. At the default fillfactor of 100
-- inserts and COPY fill pages, so each such update had to put the new row
-- version on another page and add an entry to each of the table's indexes.
-- With room left on each page, PostgreSQL keeps an update that changes no
-- indexed column on the same page (a HOT update) and touches no index.
-- Existing pages keep their packing until they are rewritten (VACUUM FULL
-- or CLUSTER).
ALTER TABLE invoices SET (fillfactor = 85);
