"""Moving an old Momento deployment (Supabase, the design document's old schema) onto this server.

`inspection` says what the source holds and what would block or lose data, `importer` copies it
here by the stated repair rules (re-runnable: only what is new since), `verify` compares both,
`inplace` runs the document's Phase 1 on the old database itself (with a backup and rollback).
"""
