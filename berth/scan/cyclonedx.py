"""An image's packages as a CycloneDX 1.5 SBOM (JSON), each identified by a package URL."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from packageurl import PackageURL

from berth.scan.inventory import Package, normalise_pypi_name

SPEC_VERSION = "1.5"
_TOOL = {"type": "application", "name": "berth", "group": "berth"}

# OSV ecosystem → (purl type, purl namespace, purl distro prefix).
_OS_PURLS: dict[str, tuple[str, str | None, str | None]] = {
    "Debian": ("deb", "debian", "debian"),
    "Ubuntu": ("deb", "ubuntu", "ubuntu"),
    "Alpine": ("apk", "alpine", "alpine"),
    "Wolfi": ("apk", "wolfi", None),
    "Chainguard": ("apk", "chainguard", None),
    "Red Hat": ("rpm", "redhat", "rhel"),
    "Rocky Linux": ("rpm", "rocky", "rocky"),
    "AlmaLinux": ("rpm", "almalinux", "almalinux"),
    "openSUSE": ("rpm", "opensuse", "opensuse"),
    "SUSE": ("rpm", "suse", "sles"),
    "Mageia": ("rpm", "mageia", "mageia"),
    "RPM": ("rpm", None, None),
}


def sbom(
    packages: Sequence[Package],
    *,
    image_name: str,
    image_digest: str,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The CycloneDX document. Packages with the same purl (one npm package installed in two
    node_modules folders) become one component with an occurrence for each location. Without
    `timestamp` the document is a pure function of its inputs, serial number included."""
    components: dict[str, dict[str, Any]] = {}
    for package in packages:
        purl = package_url(package)
        component = components.get(purl)
        if component is None:
            component = components[purl] = _component(package, purl)
        component["evidence"]["occurrences"].append({"location": "/" + package.location})
    for component in components.values():  # the order packages came in does not matter
        component["evidence"]["occurrences"].sort(key=lambda item: item["location"])
    metadata: dict[str, Any] = {
        "tools": {"components": [_TOOL]},
        "component": _image(image_name, image_digest),
    }
    if timestamp is not None:
        metadata["timestamp"] = timestamp.isoformat().replace("+00:00", "Z")
    document: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": _serial(image_digest, components),
        "version": 1,
        "metadata": metadata,
        "components": [components[purl] for purl in sorted(components)],
    }
    os_component = _operating_system(packages)
    if os_component is not None:
        document["components"].insert(0, os_component)
    return document


def package_url(package: Package) -> str:
    """The purl of a package, as CycloneDX, osv.dev and registries' SBOMs spell them."""
    ecosystem = package.ecosystem
    if ecosystem in _OS_PURLS:
        return _os_purl(package, *_OS_PURLS[ecosystem])
    if ecosystem == "PyPI":
        purl = PackageURL(
            type="pypi", name=normalise_pypi_name(package.name), version=package.version
        )
    elif ecosystem == "npm":
        scope, _, name = package.name.rpartition("/")
        purl = PackageURL(type="npm", namespace=scope or None, name=name, version=package.version)
    elif ecosystem == "Go":
        namespace, _, name = package.name.rpartition("/")
        purl = PackageURL(
            type="golang", namespace=namespace or None, name=name, version=package.version
        )
    elif ecosystem == "Maven":
        group, _, artifact = package.name.partition(":")
        purl = PackageURL(type="maven", namespace=group, name=artifact, version=package.version)
    else:
        purl = PackageURL(type="generic", name=package.name, version=package.version)
    return str(purl.to_string())


def _os_purl(package: Package, kind: str, namespace: str | None, distro_prefix: str | None) -> str:
    qualifiers: dict[str, str] = {}
    version = package.version
    if kind == "rpm":
        # purl-spec: an rpm epoch is a qualifier, the version is version-release.
        epoch, sep, rest = version.partition(":")
        if sep and epoch.isdigit():
            qualifiers["epoch"] = epoch
            version = rest
    release = package.distro.partition(":")[2] if package.distro else ""
    if namespace is None and package.distro:
        namespace = package.distro.partition(":")[0].lower() or None
    if release:
        prefix = distro_prefix or namespace
        qualifiers["distro"] = f"{prefix}-{release.removeprefix('v')}" if prefix else release
    purl = PackageURL(
        type=kind,
        namespace=namespace,
        name=package.name,
        version=version,
        qualifiers=qualifiers or None,
    )
    return str(purl.to_string())


def _component(package: Package, purl: str) -> dict[str, Any]:
    group = None
    name = package.name
    if package.ecosystem == "Maven":
        group, _, name = package.name.partition(":")
    component: dict[str, Any] = {"type": "library", "bom-ref": purl}
    if group:
        component["group"] = group
    component.update({"name": name, "version": package.version, "purl": purl})
    properties = [{"name": "berth:ecosystem", "value": package.ecosystem}]
    if package.source_name:
        properties.append({"name": "berth:source_name", "value": package.source_name})
    component["properties"] = properties
    component["evidence"] = {"occurrences": []}
    return component


def _image(image_name: str, image_digest: str) -> dict[str, Any]:
    name = image_name.rpartition("/")[2].lower()
    purl = PackageURL(type="oci", name=name, version=image_digest).to_string()
    return {
        "type": "container",
        "bom-ref": image_digest,
        "name": image_name,
        "version": image_digest,
        "purl": str(purl),
    }


def _operating_system(packages: Sequence[Package]) -> dict[str, Any] | None:
    for package in packages:
        if package.ecosystem in _OS_PURLS and package.distro:
            name, _, release = package.distro.partition(":")
            component: dict[str, Any] = {
                "type": "operating-system",
                "bom-ref": f"os:{package.distro}",
                "name": name,
            }
            if release:
                component["version"] = release
            return component
    return None


def _serial(image_digest: str, components: dict[str, dict[str, Any]]) -> str:
    content = hashlib.sha256("\n".join([image_digest, *sorted(components)]).encode())
    return uuid.uuid5(uuid.NAMESPACE_URL, f"berth:sbom:{content.hexdigest()}").urn
