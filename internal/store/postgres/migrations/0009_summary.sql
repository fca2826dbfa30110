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
    invoice_id  uuid PRIMARY KEY,
    debtor_id   uuid NOT NULL,
    change_time timestamptz NOT NULL,
    profile     text NOT NULL
);
CREATE INDEX summary_profiles_debtor_idx ON summary_profiles (debtor_id);
CREATE INDEX summary_profiles_change_idx ON summary_profiles (change_time);

CREATE TABLE summary_nodes (
    node         integer NOT NULL,
    jurisdiction text NOT NULL,
    region_code  text NOT NULL,
    debtor_kind  text NOT NULL,
    currency     text NOT NULL,
    l0_count     bigint NOT NULL,
    l0_amount    bigint NOT NULL,
    l0_net_count bigint NOT NULL,
    l0_net_amount bigint NOT NULL,
    l1_count     bigint NOT NULL,
    l1_amount    bigint NOT NULL,
    l1_net_count bigint NOT NULL,
    l1_net_amount bigint NOT NULL,
    l2_count     bigint NOT NULL,
    l2_amount    bigint NOT NULL,
    l2_net_count bigint NOT NULL,
    l2_net_amount bigint NOT NULL,
    l3_count     bigint NOT NULL,
    l3_amount    bigint NOT NULL,
    l3_net_count bigint NOT NULL,
    l3_net_amount bigint NOT NULL,
    l4_count     bigint NOT NULL,
    l4_amount    bigint NOT NULL,
    l4_net_count bigint NOT NULL,
    l4_net_amount bigint NOT NULL,
    l5_count     bigint NOT NULL,
    l5_amount    bigint NOT NULL,
    l5_net_count bigint NOT NULL,
    l5_net_amount bigint NOT NULL,
    l6_count     bigint NOT NULL,
    l6_amount    bigint NOT NULL,
    l6_net_count bigint NOT NULL,
    l6_net_amount bigint NOT NULL,
    PRIMARY KEY (node, jurisdiction, region_code, debtor_kind, currency)
);
