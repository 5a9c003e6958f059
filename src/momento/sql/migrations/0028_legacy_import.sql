-- Imports from an old Momento deployment (`momento legacy import`): what each run brought, row
-- by row, so a re-run imports only what is new since and lists (never applies) what changed or
-- went at the source; where each imported photo's file was; when each event arrived, so the
-- retention of a free event revealed long ago is counted from its import.

CREATE TABLE momento.legacy_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- host/port/database of the source: never its password (URLs are redacted before this).
  source text NOT NULL,
  -- The source's clock in the snapshot the run read: likes made at the source after it are new.
  snapshot_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  report jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE momento.legacy_rows (
  kind text NOT NULL CHECK (kind IN ('user', 'profile', 'event', 'member', 'photo')),
  -- The source's key (a uuid; a membership: event_id/user_id).
  key text NOT NULL,
  -- md5 of the source row as read: a later run sees that it changed at the source.
  digest text NOT NULL,
  run_id bigint NOT NULL REFERENCES momento.legacy_runs (id),
  PRIMARY KEY (kind, key)
);

-- Imported photos' files: where they were in the old bucket, and when they were copied here
-- (NULL: still to copy; the copy job resumes from these).
CREATE TABLE momento.legacy_files (
  photo_id uuid PRIMARY KEY REFERENCES public.photos (id) ON DELETE CASCADE,
  source_path text NOT NULL,
  copied_at timestamptz,
  failure text
);
CREATE INDEX legacy_files_to_copy ON momento.legacy_files (photo_id) WHERE copied_at IS NULL;

-- Imported events: a free event revealed long before its import keeps it for the retention
-- counted from the import (momento.cleanup), not from its release_at.
CREATE TABLE momento.legacy_events (
  event_id uuid PRIMARY KEY REFERENCES public.events (id) ON DELETE CASCADE,
  imported_at timestamptz NOT NULL DEFAULT now()
);
