-- piivault account records (vault.Store). One row per user; version is the
-- compare-and-swap token: drawn from a sequence on every write, so it is
-- never 0 and never reused, not even after a delete and a re-create.
CREATE SEQUENCE piivault_account_version AS bigint MINVALUE 1 NO CYCLE;

CREATE TABLE piivault_accounts (
	user_id    text COLLATE "C" PRIMARY KEY
	           CHECK (octet_length(user_id) BETWEEN 1 AND 255),
	account    bytea NOT NULL
	           CHECK (octet_length(account) BETWEEN 1 AND 1048576),
	version    bigint NOT NULL CHECK (version > 0),
	updated_at timestamptz NOT NULL DEFAULT now()
);
