-- SQLite form of the PostgreSQL migration 0021.
-- The regulators of the complaints filed before 0018, from their documents.
UPDATE complaints SET
    receiving_regulator = NULLIF(json_extract(data, '$.receiving_regulator'), '00000000-0000-0000-0000-000000000000'),
    handling_regulator = NULLIF(json_extract(data, '$.handling_regulator'), '00000000-0000-0000-0000-000000000000');
