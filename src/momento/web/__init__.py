"""Web pages the server serves beside the API (the interactive docs)."""
