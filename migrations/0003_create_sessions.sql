-- One row per login. Refresh tokens are tracked by their `jti`, so the session can
-- be revoked and a refresh token retired.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_jti   TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);

CREATE INDEX sessions_user_id ON sessions (user_id);
