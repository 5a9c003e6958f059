"""Small shared pieces: rate limiting, request helpers."""
