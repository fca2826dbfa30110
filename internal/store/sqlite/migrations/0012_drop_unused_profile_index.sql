-- Nothing reads summary profiles by debtor (a debtor's recount reads its
-- invoices, and the aggregates keep their own per-debtor rows), and every
-- invoice a bulk sync writes paid for this index entry.
DROP INDEX summary_profiles_debtor_idx;
