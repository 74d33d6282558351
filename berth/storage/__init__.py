"""Storage ports and their adapters (metadata in SQL, blob bytes in a content-addressed store)."""
