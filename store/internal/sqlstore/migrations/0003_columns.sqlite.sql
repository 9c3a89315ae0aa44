-- Consumers and credentials keep their fields in columns rather than in a
-- JSON document (reading them decodes no JSON but plugin settings and
-- labels). SQLite's text functions would not keep plugin settings byte for
-- byte, so the store fills these columns from the documents in Go, after
-- this (rows whose created_at is NULL); 0004 drops the documents. Instants
-- are RFC 3339 text. A credential's entities column holds its authorized
-- entities joined by spaces, or, when an entry is empty or holds a space or
-- '[', their JSON array.
ALTER TABLE consumers ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE consumers ADD COLUMN group_id TEXT NOT NULL DEFAULT '';
ALTER TABLE consumers ADD COLUMN created_at TEXT;
ALTER TABLE consumers ADD COLUMN updated_at TEXT;
ALTER TABLE consumers ADD COLUMN labels TEXT;
ALTER TABLE consumers ADD COLUMN plugins TEXT;

ALTER TABLE credentials ADD COLUMN enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN expires_at TEXT;
ALTER TABLE credentials ADD COLUMN created_at TEXT;
ALTER TABLE credentials ADD COLUMN updated_at TEXT;
ALTER TABLE credentials ADD COLUMN entities TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN plugins TEXT;
