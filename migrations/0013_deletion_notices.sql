-- The notice owed to an owner whose account deletion was scheduled
-- (docs/security.md, "Deleting an account"). Written in the batch that
-- schedules; the request mails it right away, the Cron Trigger again while
-- `sent_at` is NULL. A deletion is finalised only a day or more after its
-- notice went out. No address here: the mail reads it from `users`.
CREATE TABLE deletion_notices (
    user_id       TEXT PRIMARY KEY NOT NULL,
    -- The schedule the notice is for (users.account_deletion_requested_at):
    -- a notice outlived by a cancel or a later schedule is never sent.
    requested_at  TEXT NOT NULL,
    -- The language the request asked for (en, tr).
    locale        TEXT NOT NULL,
    -- When the mail provider accepted it; NULL while owed.
    sent_at       TEXT
);

CREATE INDEX deletion_notices_owed ON deletion_notices (requested_at) WHERE sent_at IS NULL;
