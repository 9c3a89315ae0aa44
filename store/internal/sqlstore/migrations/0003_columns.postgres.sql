-- Consumers and credentials keep their fields in columns rather than in a
-- JSON document (reading them decodes no JSON but plugin settings and
-- labels). This fills the columns from the documents, emptying them in the
-- same pass (rows rewritten once, not carrying their documents on); 0004
-- drops them.
-- A credential's entities column holds its authorized entities joined by
-- spaces, or, when an entry is empty or holds a space or '[', their JSON
-- array.
ALTER TABLE consumers
	ALTER COLUMN doc DROP NOT NULL,
	ADD COLUMN description TEXT NOT NULL DEFAULT '',
	ADD COLUMN group_id    TEXT COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN created_at  TIMESTAMPTZ,
	ADD COLUMN updated_at  TIMESTAMPTZ,
	ADD COLUMN labels      JSON,
	ADD COLUMN plugins     JSON;
UPDATE consumers SET
	description = COALESCE(doc->>'desc', ''),
	group_id    = COALESCE(doc->>'group_id', ''),
	created_at  = (doc->>'created_at')::timestamptz,
	updated_at  = (doc->>'updated_at')::timestamptz,
	labels      = doc->'labels',
	plugins     = doc->'plugins',
	doc         = NULL;

ALTER TABLE credentials
	ALTER COLUMN doc DROP NOT NULL,
	ADD COLUMN enabled    BOOLEAN NOT NULL DEFAULT false,
	ADD COLUMN expires_at TIMESTAMPTZ,
	ADD COLUMN created_at TIMESTAMPTZ,
	ADD COLUMN updated_at TIMESTAMPTZ,
	ADD COLUMN entities   TEXT NOT NULL DEFAULT '',
	ADD COLUMN plugins    JSON;
UPDATE credentials SET
	enabled    = COALESCE((doc->>'enabled')::boolean, false),
	expires_at = (doc->>'expires_at')::timestamptz,
	created_at = (doc->>'created_at')::timestamptz,
	updated_at = (doc->>'updated_at')::timestamptz,
	entities   = CASE WHEN json_typeof(doc->'authorized_entities') = 'array' THEN COALESCE((
		SELECT CASE WHEN bool_or(e = '' OR strpos(e, ' ') > 0 OR strpos(e, '[') > 0)
			THEN (doc->'authorized_entities')::text
			ELSE string_agg(e, ' ' ORDER BY n) END
		FROM json_array_elements_text(doc->'authorized_entities') WITH ORDINALITY AS a (e, n)), '')
		ELSE '' END,
	plugins    = doc->'plugins',
	doc        = NULL;
