-- A user's list of devices (GET /api/v1/users/me/sessions): what the login
-- that opened the session was made from. `device_label` is the label
-- `domain::device` reads out of the User-Agent ("Chrome on macOS"; NULL when
-- nothing in it is recognised), never the header itself; `country` (ISO
-- 3166-1 alpha-2) and `city` are where Cloudflare placed the client
-- (`request.cf`). NULL for sessions opened before this migration.
ALTER TABLE sessions ADD COLUMN device_label TEXT;
ALTER TABLE sessions ADD COLUMN country TEXT;
ALTER TABLE sessions ADD COLUMN city TEXT;
