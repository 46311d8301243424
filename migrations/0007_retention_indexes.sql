-- The Cron Trigger purges ended sessions and spent rate-limit counters every
-- 15 minutes; these indexes let it find them without scanning either table.
-- (audit_events is purged by `at`, already indexed.)
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX rate_limits_updated_at ON rate_limits (updated_at);
