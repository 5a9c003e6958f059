"""Photos: upload processing (variants, metadata stripping, blurhash) and, later, endpoints."""
