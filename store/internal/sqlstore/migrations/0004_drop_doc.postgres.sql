-- The documents of consumers and credentials are in columns now (0003).
ALTER TABLE consumers
	DROP COLUMN doc,
	ALTER COLUMN created_at SET NOT NULL,
	ALTER COLUMN updated_at SET NOT NULL;
ALTER TABLE credentials
	DROP COLUMN doc,
	ALTER COLUMN created_at SET NOT NULL,
	ALTER COLUMN updated_at SET NOT NULL;
