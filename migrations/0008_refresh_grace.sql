-- Refresh grace: the token a rotation retired, so that a second refresh of it
-- within REFRESH_REUSE_GRACE_SECONDS of `refreshed_at` (two tabs, a retry after
-- a lost answer) is told the session's current token instead of being taken
-- for a theft. Anything older is still reuse and revokes the session.
ALTER TABLE sessions ADD COLUMN previous_refresh_jti TEXT;
