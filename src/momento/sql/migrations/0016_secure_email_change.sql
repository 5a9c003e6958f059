-- An email change is confirmed through both addresses, as GoTrue's "secure email change"
-- (its default): a stolen access token alone must not be able to move an account to another
-- address (and then reset its password there). The new address's code stays in
-- email_change_token_new; the current address gets its own code here. Once one of the two is
-- used, email_change_confirm_status is 1; the second applies the change and resets it to 0.
-- Column names and type as in Supabase's auth.users.
ALTER TABLE auth.users
  ADD COLUMN email_change_token_current varchar(255) DEFAULT '',
  ADD COLUMN email_change_confirm_status smallint NOT NULL DEFAULT 0
    CONSTRAINT users_email_change_confirm_status_check
    CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2);
