-- A debtor's invoices are read in id order a page at a time: its own lists,
-- a DEBTOR key's scope, a debtor's recount after its region or kind
-- changes, the reports. Without an index led by the debtor, each page
-- walked the primary key filtering on the debtor, or fetched and sorted
-- every invoice of the debtor (the unique (debtor_id, document_ref) index
-- finds them but not in id order): a page cost the whole debtor.
CREATE INDEX invoices_debtor_idx ON invoices (debtor_id, id);
