"""The OCI Distribution 1.1 API under `/v2/`."""
