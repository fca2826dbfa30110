-- SQLite form of the PostgreSQL migration of the same number.
-- The overdue summary's aggregates (internal/summary). summary_profiles
-- keeps, per invoice, the profile the aggregates last counted: its due
-- date and what it owed, gross and net of disputes, over spans of dates.
-- summary_nodes keeps, per group (the debtor's jurisdiction, region and
-- kind, and the currency) and node of a Fenwick tree over dates, the sum
-- of the changes the profiles made to seven cumulative aging levels
-- (age at most 0, 30, 60, 90, 180 and 365 days, and any age), each as a
-- count and an amount, gross and net. Both are written in the transaction
-- of every change to an invoice or its facts.
CREATE TABLE summary_profiles (
    invoice_id  TEXT PRIMARY KEY,
    debtor_id   TEXT NOT NULL,
    change_time INTEGER NOT NULL,
    profile     TEXT NOT NULL
);
CREATE INDEX summary_profiles_debtor_idx ON summary_profiles (debtor_id);
CREATE INDEX summary_profiles_change_idx ON summary_profiles (change_time);

CREATE TABLE summary_nodes (
    node         INTEGER NOT NULL,
    jurisdiction TEXT NOT NULL,
    region_code  TEXT NOT NULL,
    debtor_kind  TEXT NOT NULL,
    currency     TEXT NOT NULL,
    l0_count     INTEGER NOT NULL,
    l0_amount    INTEGER NOT NULL,
    l0_net_count INTEGER NOT NULL,
    l0_net_amount INTEGER NOT NULL,
    l1_count     INTEGER NOT NULL,
    l1_amount    INTEGER NOT NULL,
    l1_net_count INTEGER NOT NULL,
    l1_net_amount INTEGER NOT NULL,
    l2_count     INTEGER NOT NULL,
    l2_amount    INTEGER NOT NULL,
    l2_net_count INTEGER NOT NULL,
    l2_net_amount INTEGER NOT NULL,
    l3_count     INTEGER NOT NULL,
    l3_amount    INTEGER NOT NULL,
    l3_net_count INTEGER NOT NULL,
    l3_net_amount INTEGER NOT NULL,
    l4_count     INTEGER NOT NULL,
    l4_amount    INTEGER NOT NULL,
    l4_net_count INTEGER NOT NULL,
    l4_net_amount INTEGER NOT NULL,
    l5_count     INTEGER NOT NULL,
    l5_amount    INTEGER NOT NULL,
    l5_net_count INTEGER NOT NULL,
    l5_net_amount INTEGER NOT NULL,
    l6_count     INTEGER NOT NULL,
    l6_amount    INTEGER NOT NULL,
    l6_net_count INTEGER NOT NULL,
    l6_net_amount INTEGER NOT NULL,
    PRIMARY KEY (node, jurisdiction, region_code, debtor_kind, currency)
);
