-- How each session was signed in (its amr method: password, otp, oauth, anonymous), so a
-- refreshed access token keeps saying it, as GoTrue's mfa_amr_claims do. Sessions from before
-- this migration were all password (or a mailed link/code, told apart only here on).
ALTER TABLE auth.sessions ADD COLUMN amr_method text NOT NULL DEFAULT 'password';
