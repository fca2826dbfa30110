-- A complaint's receiving and handling regulators, as columns beside its
-- document: a regulator sees the complaints it receives or handles, not
-- only those of debtors in its remit, so one whose debtor moved to another
-- region stays with the regulator working on it. Filled in from the
-- documents of the complaints already filed.
ALTER TABLE complaints ADD COLUMN receiving_regulator uuid;
ALTER TABLE complaints ADD COLUMN handling_regulator uuid;
UPDATE complaints SET
    receiving_regulator = NULLIF(data::jsonb ->> 'receiving_regulator', '00000000-0000-0000-0000-000000000000')::uuid,
    handling_regulator = NULLIF(data::jsonb ->> 'handling_regulator', '00000000-0000-0000-0000-000000000000')::uuid;
CREATE INDEX complaints_receiving_idx ON complaints (receiving_regulator, id);
CREATE INDEX complaints_handling_idx ON complaints (handling_regulator, id);
