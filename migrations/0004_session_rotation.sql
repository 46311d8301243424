-- Refresh rotation and revocation details: when the session last rotated its
-- refresh token, and why it was revoked (logout, refresh_reuse, account_deleted).
ALTER TABLE sessions ADD COLUMN refreshed_at TEXT;
ALTER TABLE sessions ADD COLUMN revoked_reason TEXT;

-- Logout of every session and the deletion job revoke by user.
CREATE INDEX sessions_user_active ON sessions (user_id) WHERE revoked_at IS NULL;
DROP INDEX sessions_user_id;
