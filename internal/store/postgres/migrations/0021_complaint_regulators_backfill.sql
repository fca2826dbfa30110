-- The regulators of the complaints filed before 0020, from their documents.
UPDATE complaints SET
    receiving_regulator = NULLIF(data::jsonb ->> 'receiving_regulator', '00000000-0000-0000-0000-000000000000')::uuid,
    handling_regulator = NULLIF(data::jsonb ->> 'handling_regulator', '00000000-0000-0000-0000-000000000000')::uuid;
