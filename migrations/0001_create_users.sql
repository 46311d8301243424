-- Users: every field of the documented profile. Timestamps are ISO-8601 UTC text
-- with milliseconds, as the API returns them; lists are JSON arrays in text.
CREATE TABLE users (
    id                              TEXT PRIMARY KEY NOT NULL,
    -- Addresses are stored lower-cased; NOCASE makes uniqueness hold even if one is not.
    email                           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name                            TEXT,
    surname                         TEXT,
    username                        TEXT COLLATE NOCASE,
    country_code                    TEXT,
    phone_number                    TEXT,
    signup_source                   TEXT,
    signup_campaign                 TEXT,
    profile_photo                   TEXT,
    availability_status             TEXT,
    birth_date                      TEXT,
    gender                          TEXT,
    interests                       TEXT NOT NULL DEFAULT '[]'
                                    CHECK (json_valid(interests) AND json_type(interests) = 'array'),
    expertise                       TEXT,
    bio                             TEXT,
    instagram                       TEXT,
    x                               TEXT,
    tiktok                          TEXT,
    snapchat                        TEXT,
    facebook                        TEXT,
    privacy_policy_accepted         INTEGER NOT NULL DEFAULT 0 CHECK (privacy_policy_accepted IN (0, 1)),
    privacy_policy_version          TEXT,
    terms_of_use_accepted           INTEGER NOT NULL DEFAULT 0 CHECK (terms_of_use_accepted IN (0, 1)),
    terms_of_use_version            TEXT,
    consent_form_accepted           INTEGER NOT NULL DEFAULT 0 CHECK (consent_form_accepted IN (0, 1)),
    consent_form_version            TEXT,
    is_registration_complete        INTEGER NOT NULL DEFAULT 0 CHECK (is_registration_complete IN (0, 1)),
    roles                           TEXT NOT NULL DEFAULT '["user"]'
                                    CHECK (json_valid(roles) AND json_type(roles) = 'array'),
    followers_count                 INTEGER NOT NULL DEFAULT 0 CHECK (followers_count >= 0),
    following_count                 INTEGER NOT NULL DEFAULT 0 CHECK (following_count >= 0),
    minute_price_in_live_stream     INTEGER NOT NULL DEFAULT 0 CHECK (minute_price_in_live_stream >= 0),
    credit_balance                  INTEGER NOT NULL DEFAULT 0 CHECK (credit_balance >= 0),
    last_login                      TEXT,
    timezone                        TEXT,
    last_username_change_date       TEXT,
    account_deletion_status         TEXT
                                    CHECK (account_deletion_status IN ('pending', 'cancelled', 'finalized')),
    account_deletion_requested_at   TEXT,
    account_deletion_scheduled_for  TEXT,
    account_deletion_cancelled_at   TEXT,
    account_deletion_finalized_at   TEXT,
    created_at                      TEXT NOT NULL,
    updated_at                      TEXT NOT NULL
);

-- Usernames are unique case-insensitively; accounts without one yet do not collide.
CREATE UNIQUE INDEX users_username_unique ON users (username COLLATE NOCASE)
    WHERE username IS NOT NULL;

-- The deletion job looks up pending deletions that are due.
CREATE INDEX users_deletion_due ON users (account_deletion_scheduled_for)
    WHERE account_deletion_status = 'pending';
