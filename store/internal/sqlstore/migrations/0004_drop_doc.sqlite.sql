-- The documents of consumers and credentials are in columns now (0003).
ALTER TABLE consumers DROP COLUMN doc;
ALTER TABLE credentials DROP COLUMN doc;
