"""Realtime: live event updates for members over Server-Sent Events (issue 15).

The database writes a change log (migration 0026) in the changing transaction and NOTIFYs the
event id; each API process's `Hub` reads new rows once, reads their details once, and asks
`policy.decide` what each of its subscribers may receive. Momento's own protocol: it is not
Supabase Realtime's.
"""
