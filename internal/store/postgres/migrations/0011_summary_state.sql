-- Facts about the summary aggregates as a whole: the fingerprint of the
-- policy data the profiles were computed under (a summary reads the
-- aggregates only when the server's data has the same one).
CREATE TABLE summary_state (
    name  text PRIMARY KEY,
    value text NOT NULL
);
