-- piivault sealed records (vault.RecordStore): one row per user and label,
-- with the same compare-and-swap versions as accounts (one sequence, so a
-- version is never reused). No foreign key to piivault_accounts: a record
-- whose account was shredded stays, unopenable, until the caller deletes it.
CREATE TABLE piivault_records (
	user_id    text COLLATE "C" NOT NULL
	           CHECK (octet_length(user_id) BETWEEN 1 AND 255),
	label      text COLLATE "C" NOT NULL
	           CHECK (octet_length(label) BETWEEN 1 AND 255),
	sealed     bytea NOT NULL
	           CHECK (octet_length(sealed) BETWEEN 1 AND 16777344),
	version    bigint NOT NULL CHECK (version > 0),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, label)
);
