-- SQLite form of the PostgreSQL migration 0020.
-- A complaint's receiving and handling regulators, as columns beside its
-- document: a regulator sees the complaints it receives or handles, not
-- only those of debtors in its remit, so one whose debtor moved to another
-- region stays with the regulator working on it. Filled in by 0019.
ALTER TABLE complaints ADD COLUMN receiving_regulator TEXT;
ALTER TABLE complaints ADD COLUMN handling_regulator TEXT;
CREATE INDEX complaints_receiving_idx ON complaints (receiving_regulator, id);
CREATE INDEX complaints_handling_idx ON complaints (handling_regulator, id);
