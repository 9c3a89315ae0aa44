-- Gatehouse store schema, version 1. {{text}} is a key column compared in
-- byte order, {{json}} the column of an object's JSON document.

CREATE TABLE consumers (
	username {{text}} PRIMARY KEY,
	doc      {{json}} NOT NULL
);

CREATE TABLE consumer_labels (
	username {{text}} NOT NULL REFERENCES consumers (username) ON DELETE CASCADE,
	key      {{text}} NOT NULL,
	value    {{text}} NOT NULL,
	PRIMARY KEY (username, key)
);
CREATE INDEX consumer_labels_pair ON consumer_labels (key, value);

CREATE TABLE credentials (
	consumer       {{text}} NOT NULL REFERENCES consumers (username) ON DELETE CASCADE,
	id             {{text}} NOT NULL,
	name           {{text}} NOT NULL,
	lookup         {{text}} NOT NULL,
	consumer_group {{text}} NOT NULL,
	doc            {{json}} NOT NULL,
	PRIMARY KEY (consumer, id)
);
CREATE UNIQUE INDEX credentials_name ON credentials (consumer, name) WHERE name <> '';
CREATE UNIQUE INDEX credentials_lookup ON credentials (lookup) WHERE lookup <> '';
CREATE INDEX credentials_consumer_group ON credentials (consumer_group) WHERE consumer_group <> '';

CREATE TABLE credential_entities (
	consumer   {{text}} NOT NULL,
	credential {{text}} NOT NULL,
	entity     {{text}} NOT NULL,
	PRIMARY KEY (consumer, credential, entity),
	FOREIGN KEY (consumer, credential) REFERENCES credentials (consumer, id) ON DELETE CASCADE
);
CREATE INDEX credential_entities_entity ON credential_entities (entity);

CREATE TABLE routes (
	id  {{text}} PRIMARY KEY,
	doc {{json}} NOT NULL
);

CREATE TABLE service_groups (
	id  {{text}} PRIMARY KEY,
	doc {{json}} NOT NULL
);

CREATE TABLE service_group_tags (
	group_id {{text}} NOT NULL REFERENCES service_groups (id) ON DELETE CASCADE,
	tag      {{text}} NOT NULL,
	PRIMARY KEY (group_id, tag)
);
CREATE INDEX service_group_tags_tag ON service_group_tags (tag);

CREATE TABLE gateways (
	id  {{text}} PRIMARY KEY,
	doc {{json}} NOT NULL
);

-- A gateway holding consumer groups cannot be deleted (no cascade).
CREATE TABLE consumer_groups (
	id         {{text}} PRIMARY KEY,
	gateway_id {{text}} NOT NULL REFERENCES gateways (id),
	name       {{text}} NOT NULL,
	doc        {{json}} NOT NULL
);
CREATE UNIQUE INDEX consumer_groups_name ON consumer_groups (gateway_id, name);

-- The change feed: feed.seq is the last sequence number handed out; every
-- write takes it (and so its row lock) last, just before it commits, so that
-- sequence numbers are contiguous and in commit order.
CREATE TABLE feed (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	seq BIGINT NOT NULL
);
INSERT INTO feed (one, seq) VALUES (1, 0);

CREATE TABLE changes (
	seq      BIGINT PRIMARY KEY,
	at_ms    BIGINT NOT NULL,
	kind     INTEGER NOT NULL,
	deleted  INTEGER NOT NULL,
	consumer {{text}} NOT NULL,
	id       {{text}} NOT NULL
);
