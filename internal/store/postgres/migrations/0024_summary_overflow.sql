-- Set on an aggregate row once adding a change to one of its figures would
-- have left the int64 range: the figure then keeps its value, the write
-- goes on, and summaries that read the row judge the group's invoices one
-- by one (which give its total, or refuse one beyond the range). Before,
-- the write failed ("bigint out of range"), refusing every invoice write of
-- that group's debtors because of a counter.
ALTER TABLE summary_nodes ADD COLUMN overflow integer NOT NULL DEFAULT 0;
ALTER TABLE summary_debtor_nodes ADD COLUMN overflow integer NOT NULL DEFAULT 0;
