-- Per-address abuse counters (resend cooldown, hourly send cap, wrong-code
-- lockout). Keys carry a keyed hash of the address, never the address itself.
-- Times are Unix milliseconds; a window starts at its first event.
CREATE TABLE rate_limits (
    key           TEXT PRIMARY KEY NOT NULL,
    window_start  INTEGER NOT NULL,
    count         INTEGER NOT NULL CHECK (count >= 0),
    updated_at    INTEGER NOT NULL
);

-- Security events, for investigation. Addresses and IPs are keyed hashes.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    event       TEXT NOT NULL,
    user_id     TEXT,
    email_hash  TEXT,
    ip_hash     TEXT,
    detail      TEXT
);

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id) WHERE user_id IS NOT NULL;
