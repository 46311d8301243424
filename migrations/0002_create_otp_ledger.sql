-- The ledger of issued codes. KV holds the code's hash (and expires it); this table
-- holds what must be exact under concurrency and across locations: how many attempts
-- a code has had and whether it was used. Each change is one conditional UPDATE,
-- which SQLite applies atomically.
CREATE TABLE otp_ledger (
    email        TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
    -- The issuance the KV record belongs to; a new send replaces it.
    code_id      TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Unix milliseconds; checked here too, so expiry does not rest on KV alone.
    expires_at   INTEGER NOT NULL,
    -- Random token of the request that used the code; NULL while unused.
    consumed_by  TEXT,
    issued_at    TEXT NOT NULL
);

CREATE INDEX otp_ledger_expires_at ON otp_ledger (expires_at);
