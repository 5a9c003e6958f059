-- PROFILES: who exists. Columns as in the design document.
CREATE TABLE public.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users(id),
  username text NOT NULL UNIQUE,
  display_name text,
  avatar_url text,
  device_token text,              -- APNs token for push notifications
  created_at timestamptz DEFAULT now()
);

CREATE INDEX idx_profiles_username ON profiles(username);

-- Usernames are unique whatever their case ("Ana" and "ana" are one name), and kept to the
-- form the app shows: 3 to 30 of a-z, 0-9, "_" and ".".
CREATE UNIQUE INDEX idx_profiles_username_lower ON profiles (lower(username));
ALTER TABLE profiles ADD CONSTRAINT profiles_username_format
  CHECK (username ~ '^[a-z0-9_.]{3,30}$');
ALTER TABLE profiles ADD CONSTRAINT profiles_display_name_length
  CHECK (display_name IS NULL OR char_length(display_name) BETWEEN 1 AND 60);
ALTER TABLE profiles ADD CONSTRAINT profiles_avatar_url_length
  CHECK (avatar_url IS NULL OR char_length(avatar_url) <= 2048);
ALTER TABLE profiles ADD CONSTRAINT profiles_device_token_format
  CHECK (device_token IS NULL OR device_token ~ '^[0-9a-f]{32,200}$');
-- "You're user #47" counts profiles created up to the user's own.
CREATE INDEX idx_profiles_created_at ON profiles (created_at);

ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON profiles FROM anon, authenticated;
-- The device token is for the push sender only: no user can read anyone's, their own included.
GRANT SELECT (id, username, display_name, avatar_url, created_at) ON profiles TO authenticated;
GRANT UPDATE (username, display_name, avatar_url, device_token) ON profiles TO authenticated;
GRANT ALL ON profiles TO service_role;

CREATE POLICY "Signed-in users can read any profile."
  ON profiles FOR SELECT TO authenticated
  USING (true);

CREATE POLICY "Users can update their own profile only."
  ON profiles FOR UPDATE TO authenticated
  USING (id = (SELECT auth.uid()))
  WITH CHECK (id = (SELECT auth.uid()));

-- Every new account gets its profile in the same transaction. The username comes from the
-- signup metadata (`data.username`); without one, a generated `user_xxxxxxxx` is used.
CREATE FUNCTION private.handle_new_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  wanted text := lower(NEW.raw_user_meta_data ->> 'username');
BEGIN
  IF wanted IS NULL OR wanted !~ '^[a-z0-9_.]{3,30}$' THEN
    wanted := 'user_' || substr(replace(NEW.id::text, '-', ''), 1, 12);
  END IF;
  INSERT INTO public.profiles (id, username, display_name)
  VALUES (NEW.id, wanted, nullif(NEW.raw_user_meta_data ->> 'display_name', ''));
  RETURN NEW;
END
$$;

CREATE TRIGGER on_auth_user_created
  AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION private.handle_new_user();
