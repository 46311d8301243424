-- Review logins (REVIEW_LOGINS, docs/security.md "Review access"): the app
-- stores' reviewers sign in at listed addresses with a fixed code, unmailed.
--
-- `otp_codes.review`: this code is a review address's fixed code, stored by a
-- send that mailed nothing. A login with it is audited `review_login`, and
-- the account it signs in to stays a review account.
-- `users.review`: a review account, created by a review login and never
-- signed in with a mailed code since. Any other account is real (every
-- account before this migration is), and a real account's address is never
-- a review address: its sends mail a code, whatever REVIEW_LOGINS says.
ALTER TABLE otp_codes ADD COLUMN review INTEGER NOT NULL DEFAULT 0 CHECK (review IN (0, 1));
ALTER TABLE users ADD COLUMN review INTEGER NOT NULL DEFAULT 0 CHECK (review IN (0, 1));
