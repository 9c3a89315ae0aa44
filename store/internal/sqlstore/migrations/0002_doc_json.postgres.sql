-- PostgreSQL keeps documents as the store writes them: json, not jsonb,
-- which reorders keys and converts every document it reads back. Nothing
-- queries inside documents.
ALTER TABLE consumers ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE credentials ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE routes ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE service_groups ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE gateways ALTER COLUMN doc TYPE json USING doc::json;
ALTER TABLE consumer_groups ALTER COLUMN doc TYPE json USING doc::json;
