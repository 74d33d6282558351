"""Blob-store adapters."""
