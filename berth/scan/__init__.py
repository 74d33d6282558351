"""Vulnerability scanning of images, without any transport.

`layers` reads the files a scan needs out of an image's layer blobs, `inventory` turns them into
packages, `osv` matches packages against advisories in OSV format and `cyclonedx` writes an SBOM.
Fetching blobs, storing advisories and serving findings belong to the callers.
"""
