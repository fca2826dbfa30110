-- SQLite form of the PostgreSQL migration 0024. Here the addition did not
-- fail: SQLite turned the figure into a floating-point value, rounded
-- (0023 marks the rows it did so to).
ALTER TABLE summary_nodes ADD COLUMN overflow integer NOT NULL DEFAULT 0;
ALTER TABLE summary_debtor_nodes ADD COLUMN overflow integer NOT NULL DEFAULT 0;
