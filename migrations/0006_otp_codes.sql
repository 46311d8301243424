-- One row per issued code, replacing the one-row-per-address otp_ledger.
--
-- D1 is the authority on codes: besides attempts and use it holds each code's
-- keyed hash, so a location whose KV copy is missing or stale (KV is
-- eventually consistent) still verifies a live code from here.
--
-- An address has at most two usable codes: the newest and the one it replaced
-- (mail can be slow; a user who asked twice may type the first). A wrong code
-- counts against both. A login retires every other code of the address.
CREATE TABLE otp_codes (
    email            TEXT NOT NULL COLLATE NOCASE,
    code_id          TEXT NOT NULL,
    -- HMAC of (address, code_id, code) under the code key; never the code.
    code_hash        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Unix milliseconds. `issued_at` orders an address's codes.
    issued_at        INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    -- The request that used the code, or 'retired' (replaced twice over, or
    -- another code of the address logged in); NULL while usable.
    consumed_by      TEXT,
    -- The request that last counted a wrong code on it (so the failure
    -- counters count only wrong codes that hit a live code).
    last_attempt_by  TEXT,
    PRIMARY KEY (email, code_id)
);

CREATE INDEX otp_codes_expires_at ON otp_codes (expires_at);

-- Codes pending at rollout were recorded without their hash; they stop
-- working and their owners ask for a new one.
DROP TABLE otp_ledger;
