-- Login ids (src/domain/login_id.rs): a send returns an opaque id to the
-- client that asked, and a verify carrying it is counted on that login's
-- codes alone, apart from strangers' guesses.
--
-- `login_id`: a keyed tag of the id, never the id; NULL for codes sent before.
-- `owner_attempts`: wrong codes counted with the login id (`attempts` keeps
-- counting the ones without it).
-- `challenged`: sent after a solved challenge, eight digits; its login keeps
-- its attempts when the address's owner budget is spent.
ALTER TABLE otp_codes ADD COLUMN login_id TEXT;
ALTER TABLE otp_codes ADD COLUMN owner_attempts INTEGER NOT NULL DEFAULT 0 CHECK (owner_attempts >= 0);
ALTER TABLE otp_codes ADD COLUMN challenged INTEGER NOT NULL DEFAULT 0 CHECK (challenged IN (0, 1));
