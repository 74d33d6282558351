"""Matching packages against a local vulnerability database in OSV format.

The database is the OSV schema (https://ossf.github.io/osv-schema/), as OSV's per-ecosystem
`all.zip` exports ship it. Storing and indexing records is the caller's business: `match` only
needs a lookup `advisories_for(ecosystem, name)`, where `ecosystem` is the package's ecosystem
without release suffix ("Debian", not "Debian:12") and `name` a package name as OSV spells it
(`index` builds such a lookup in memory).
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cmp_to_key, lru_cache
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from univers import versions as uv

from berth.scan import _cvss
from berth.scan._apk import ApkVersion
from berth.scan.errors import OsvError
from berth.scan.inventory import LANGUAGE_ECOSYSTEMS, Package, normalise_pypi_name

__all__ = [
    "SEVERITIES",
    "Advisory",
    "Affected",
    "Event",
    "Finding",
    "OsvError",
    "Range",
    "Severity",
    "affected",
    "base_ecosystem",
    "index",
    "load_records",
    "match",
    "parse_advisory",
]

EcrSeverity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED"]
# ECR's enum, least severe first.
SEVERITIES: tuple[EcrSeverity, ...] = (
    "UNDEFINED",
    "INFORMATIONAL",
    "LOW",
    "MEDIUM",
    "HIGH",
    "CRITICAL",
)
EventKind = Literal["introduced", "fixed", "last_affected", "limit"]
_EVENT_KINDS: tuple[EventKind, ...] = ("introduced", "fixed", "last_affected", "limit")


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    type: str  # ECOSYSTEM, SEMVER or GIT; GIT ranges are kept but never match a package
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Severity:
    type: str  # CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu
    score: str


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str  # as OSV has it, release included: "Debian:12"
    name: str
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()
    severity: tuple[Severity, ...] = ()
    # Free-text ratings from ecosystem_specific / database_specific ("high", Debian's urgency).
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...] = ()
    upstream: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    severity: tuple[Severity, ...] = ()
    affected: tuple[Affected, ...] = ()
    references: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # from the top-level database_specific
    withdrawn: str | None = None  # the timestamp; a withdrawn advisory matches nothing
    modified: str | None = None

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn is not None


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability in one package, in the terms of an ECR image scan finding."""

    name: str  # the CVE id when the advisory has one, else the OSV id
    description: str
    uri: str
    severity: EcrSeverity
    attributes: tuple[tuple[str, str], ...]
    package: Package
    advisory_id: str


# --- loading -------------------------------------------------------------------------------------


def load_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """OSV records from a .json file (one record, or a list of them), a folder of them (searched
    recursively) or a zip export. A zip is read entry by entry, never whole."""
    path = Path(path)
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            if file.is_file():
                with file.open("rb") as stream:
                    yield from _records(stream, str(file))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir() or not info.filename.endswith(".json"):
                    continue
                with archive.open(info) as stream:
                    yield from _records(stream, f"{path}!{info.filename}")
    elif path.is_file():
        with path.open("rb") as stream:
            yield from _records(stream, str(path))
    else:
        raise OsvError(f"{path}: no such file or folder")


def _records(stream: IO[bytes], origin: str) -> Iterator[dict[str, Any]]:
    try:
        document = json.load(stream)
    except (ValueError, zipfile.BadZipFile) as exc:
        raise OsvError(f"{origin}: not valid JSON: {exc}") from exc
    for record in document if isinstance(document, list) else [document]:
        if not isinstance(record, dict):
            raise OsvError(f"{origin}: an OSV record must be a JSON object")
        yield record


# --- parsing -------------------------------------------------------------------------------------


def parse_advisory(record: dict[str, Any]) -> Advisory:
    """An advisory from an OSV record; `OsvError` when the record breaks the schema in a way
    that matters for matching. Withdrawn records parse (see `Advisory.withdrawn`)."""
    if not isinstance(record, dict):
        raise OsvError("an OSV record must be a JSON object")
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise OsvError("OSV record without an id")
    try:
        return Advisory(
            id=ident,
            aliases=_strings(record, "aliases"),
            upstream=_strings(record, "upstream"),
            summary=_text(record, "summary"),
            details=_text(record, "details"),
            severity=_severities(record.get("severity")),
            affected=tuple(_affected(item) for item in _list(record, "affected")),
            references=tuple(
                ref["url"]
                for ref in _list(record, "references")
                if isinstance(ref, dict) and isinstance(ref.get("url"), str)
            ),
            labels=_labels(record.get("database_specific")),
            withdrawn=_optional_text(record, "withdrawn"),
            modified=_optional_text(record, "modified"),
        )
    except OsvError as exc:
        raise OsvError(f"{ident}: {exc.message}") from exc


def _affected(item: Any) -> Affected:
    if not isinstance(item, dict):
        raise OsvError("affected entries must be objects")
    package = item.get("package")
    if not isinstance(package, dict):
        raise OsvError("affected entry without package")
    ecosystem, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem, str) or not isinstance(name, str) or not ecosystem or not name:
        raise OsvError("affected package needs an ecosystem and a name")
    return Affected(
        ecosystem=ecosystem,
        name=name,
        ranges=tuple(_range(r) for r in _list(item, "ranges")),
        versions=_strings(item, "versions"),
        severity=_severities(item.get("severity")),
        labels=_labels(item.get("ecosystem_specific")) + _labels(item.get("database_specific")),
    )


def _range(item: Any) -> Range:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        raise OsvError("a range needs a type")
    events = []
    for event in _list(item, "events"):
        if not isinstance(event, dict) or len(event) != 1:
            raise OsvError(
                "a range event has exactly one of introduced, fixed, last_affected, limit"
            )
        ((kind, version),) = event.items()
        if kind not in _EVENT_KINDS or not isinstance(version, str) or not version:
            raise OsvError(f"invalid range event {event!r}")
        events.append(Event(kind, version))
    if not events:
        raise OsvError("a range needs events")
    return Range(item["type"], tuple(events))


def _severities(value: Any) -> tuple[Severity, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise OsvError("severity must be a list")
    return tuple(
        Severity(entry["type"], entry["score"])
        for entry in value
        if isinstance(entry, dict)
        and isinstance(entry.get("type"), str)
        and isinstance(entry.get("score"), str)
    )


def _labels(value: Any) -> tuple[str, ...]:
    """Severity words from an ecosystem_specific / database_specific object: GHSA's and most
    databases' "severity", Debian's "urgency"."""
    if not isinstance(value, dict):
        return ()
    labels = []
    for key in ("severity", "urgency"):
        label = value.get(key)
        if isinstance(label, str) and label:
            labels.append(label)
    return tuple(labels)


def _list(record: dict[str, Any], key: str) -> list[Any]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OsvError(f"{key} must be a list")
    return value


def _strings(record: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(item for item in _list(record, key) if isinstance(item, str))


def _text(record: dict[str, Any], key: str) -> str:
    return _optional_text(record, key) or ""


def _optional_text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise OsvError(f"{key} must be a string")
    return value


# --- matching ------------------------------------------------------------------------------------

_DEBIAN_LIKE = frozenset({"Debian", "Ubuntu"})
_APK_LIKE = frozenset({"Alpine", "Wolfi", "Chainguard"})
_RPM_LIKE = frozenset(
    {"Red Hat", "Rocky Linux", "AlmaLinux", "openSUSE", "SUSE", "Mageia", "openEuler", "RPM"}
)


class _Version(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...
    def __gt__(self, other: Any, /) -> bool: ...


# Version schemes by ecosystem; "semver" also serves SEMVER ranges of any ecosystem. Alpine's is
# a port of apk-tools (see berth.scan._apk for why not univers').
_SCHEMES: dict[str, Callable[[str], _Version]] = {
    "deb": uv.DebianVersion,
    "apk": ApkVersion,
    "rpm": uv.RpmVersion,
    "pypi": uv.PypiVersion,
    "semver": uv.SemverVersion,
    "golang": uv.GolangVersion,
    "maven": uv.MavenVersion,
}
_ECOSYSTEM_SCHEMES: dict[str, str] = {
    **dict.fromkeys(_DEBIAN_LIKE, "deb"),
    **dict.fromkeys(_APK_LIKE, "apk"),
    **dict.fromkeys(_RPM_LIKE, "rpm"),
    "PyPI": "pypi",
    "npm": "semver",
    "Go": "golang",
    "Maven": "maven",
}


def base_ecosystem(ecosystem: str) -> str:
    """ "Debian:12" → "Debian", "Alpine:v3.19" → "Alpine"."""
    return ecosystem.partition(":")[0]


def lookup_names(package: Package) -> tuple[str, ...]:
    """The names advisories know a package by. Debian and Alpine advisories are about source
    packages (apk origins); RPM distributions' advisories name binary packages, so both count."""
    ecosystem = package.ecosystem
    if ecosystem in _DEBIAN_LIKE or ecosystem in _APK_LIKE:
        return (package.source_name or package.name,)
    if ecosystem in _RPM_LIKE and package.source_name and package.source_name != package.name:
        return (package.name, package.source_name)
    if ecosystem == "PyPI":
        return (normalise_pypi_name(package.name),)
    return (package.name,)


def affected(advisory: Advisory, package: Package) -> bool:
    """Whether `package` is in one of the advisory's affected ranges or versions."""
    if advisory.is_withdrawn:
        return False
    return any(_affects(entry, package) for entry in advisory.affected)


def _affects(entry: Affected, package: Package) -> bool:
    if not _ecosystem_applies(entry.ecosystem, package):
        return False
    names = lookup_names(package)
    name = normalise_pypi_name(entry.name) if package.ecosystem == "PyPI" else entry.name
    if name not in names:
        return False
    # Debian advisories give source versions; a binNMU'd binary has a version of its own.
    version = package.version
    if package.ecosystem in _DEBIAN_LIKE and name == package.source_name:
        version = package.source_version or version
    ecosystem_scheme = _ECOSYSTEM_SCHEMES.get(package.ecosystem)
    if _listed(version, entry.versions, ecosystem_scheme):
        return True
    for range_ in entry.ranges:
        if range_.type == "SEMVER":
            scheme: str | None = "semver"
        elif range_.type == "ECOSYSTEM":
            scheme = ecosystem_scheme
        else:
            continue  # GIT ranges need commit data an image does not have
        if scheme is not None and _in_range(version, range_.events, scheme):
            return True
    return False


def _ecosystem_applies(advisory_ecosystem: str, package: Package) -> bool:
    base, _, release = advisory_ecosystem.partition(":")
    if base != package.ecosystem:
        return False
    if not release or package.ecosystem in LANGUAGE_ECOSYSTEMS:
        return True  # language ecosystems' suffixes name registries, not releases
    if package.distro is None:
        return False  # a release-specific advisory for a package of an unknown release
    distro_base, _, distro_release = package.distro.partition(":")
    if distro_base != base:
        return False
    if release == distro_release:
        return True
    # "Ubuntu:22.04:LTS", "Red Hat:enterprise_linux:9::appstream": the release is one of the
    # parts. Ubuntu Pro advisories are about Pro's own packages, which an image rarely has.
    parts = release.split(":")
    return "Pro" not in parts and distro_release in parts


def _listed(version: str, listed: Sequence[str], scheme: str | None) -> bool:
    if version in listed:
        return True
    if scheme is None or not listed:
        return False
    parsed = _parse(scheme, version)
    if parsed is None:
        return False
    for item in listed:
        other = _parse(scheme, item)
        if other is not None and _order(parsed, other) == 0:
            return True
    return False


def _in_range(version: str, events: Sequence[Event], scheme: str) -> bool:
    """OSV's evaluation: walk the events sorted by version; `introduced` opens (an "0" from the
    start), `fixed` closes from that version on, `last_affected` closes after that version, and
    a `limit` bounds the range from above."""
    parsed = _parse(scheme, version)
    if parsed is None:
        return False
    # (None for "introduced: 0", which precedes every version; else the parsed version, event)
    keyed: list[tuple[_Version | None, Event]] = []
    for event in events:
        if event.kind == "introduced" and event.version == "0":
            keyed.append((None, event))
            continue
        event_version = _parse(scheme, event.version)
        if event_version is None:
            return False  # a range we cannot order is no evidence either way
        keyed.append((event_version, event))
    try:
        keyed.sort(key=cmp_to_key(_event_order))
        vulnerable = False
        for event_version, event in keyed:
            order = 1 if event_version is None else _order(parsed, event_version)
            if event.kind == "limit":
                if order >= 0:
                    return False
            elif event.kind == "introduced":
                if order >= 0:
                    vulnerable = True
            elif event.kind == "fixed":
                if order >= 0:
                    vulnerable = False
            elif order > 0:  # last_affected
                vulnerable = False
    except TypeError:  # univers refuses to compare some odd versions
        return False
    return vulnerable


def _event_order(a: tuple[_Version | None, Event], b: tuple[_Version | None, Event]) -> int:
    if a[0] is None or b[0] is None:
        return (a[0] is not None) - (b[0] is not None)
    return _order(a[0], b[0])


def _order(a: _Version, b: _Version) -> int:
    # Only < and >: univers derives some classes' <= and >= from the raw value, not the scheme.
    return (a > b) - (a < b)


@lru_cache(maxsize=65_536)
def _parse(scheme: str, text: str) -> _Version | None:
    if scheme in ("semver", "golang"):
        text = text.removeprefix("v")  # Go module versions carry a "v", OSV's SEMVER ones don't
    try:
        return _SCHEMES[scheme](text)
    except (ValueError, TypeError, IndexError, AttributeError):  # univers' parsers vary
        return None


# --- findings ------------------------------------------------------------------------------------

_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
# Labels from vendor ratings (GHSA, Debian urgency, Red Hat, Ubuntu priorities) → ECR severity.
_LABEL_SEVERITIES: dict[str, EcrSeverity] = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "important": "HIGH",
    "moderate": "MEDIUM",
    "medium": "MEDIUM",
    "low": "LOW",
    "negligible": "INFORMATIONAL",
    "unimportant": "INFORMATIONAL",
    "informational": "INFORMATIONAL",
    "info": "INFORMATIONAL",
    "none": "INFORMATIONAL",
}


def index(advisories: Iterable[Advisory]) -> Callable[[str, str], Sequence[Advisory]]:
    """An in-memory `advisories_for` lookup keyed like `match` asks."""
    table: dict[tuple[str, str], list[Advisory]] = {}
    for advisory in advisories:
        keys = set()
        for entry in advisory.affected:
            ecosystem = base_ecosystem(entry.ecosystem)
            name = normalise_pypi_name(entry.name) if ecosystem == "PyPI" else entry.name
            keys.add((ecosystem, name))
        for key in keys:
            table.setdefault(key, []).append(advisory)

    def advisories_for(ecosystem: str, name: str) -> Sequence[Advisory]:
        return table.get((ecosystem, name), ())

    return advisories_for


def match(
    packages: Iterable[Package],
    advisories_for: Callable[[str, str], Iterable[Advisory]],
) -> list[Finding]:
    """Findings for every package an advisory affects. One finding per vulnerability name and
    package (an advisory listing several CVEs gives one each; two advisories about one CVE give
    one, the more severe), most severe first."""
    best: dict[tuple[str, Package], Finding] = {}
    for package in packages:
        seen: set[str] = set()
        for name in lookup_names(package):
            for advisory in advisories_for(package.ecosystem, name):
                if advisory.id in seen or not affected(advisory, package):
                    continue
                seen.add(advisory.id)
                for finding in _findings(advisory, package):
                    key = (finding.name, package)
                    current = best.get(key)
                    if current is None or _rank(finding.severity) > _rank(current.severity):
                        best[key] = finding
    return sorted(
        best.values(),
        key=lambda f: (-_rank(f.severity), f.name, f.package.name, f.package.location),
    )


def _findings(advisory: Advisory, package: Package) -> list[Finding]:
    severity, attributes = _rate(advisory, package)
    description = advisory.details or advisory.summary
    uri = advisory.references[0] if advisory.references else _osv_uri(advisory.id)
    return [
        Finding(name, description, uri, severity, attributes, package, advisory.id)
        for name in _names(advisory)
    ]


def _names(advisory: Advisory) -> list[str]:
    if _CVE.fullmatch(advisory.id):
        return [advisory.id]
    aliases = [alias for alias in advisory.aliases if _CVE.fullmatch(alias)]
    if aliases:
        return list(dict.fromkeys(aliases))
    # Distribution records about one CVE embed it in their id: DEBIAN-CVE-2024-1234,
    # UBUNTU-CVE-2024-1234.
    embedded = _CVE.search(advisory.id)
    return [embedded[0] if embedded else advisory.id]


def _osv_uri(ident: str) -> str:
    return f"https://osv.dev/vulnerability/{ident}"


def _rate(advisory: Advisory, package: Package) -> tuple[EcrSeverity, tuple[tuple[str, str], ...]]:
    """ECR severity and attributes. The severity is the CVSS v3 base score's rating, else CVSS
    v4's, else the most severe vendor label, else CVSS v2's, else UNDEFINED."""
    entries = [e for e in advisory.affected if _ecosystem_applies(e.ecosystem, package)]
    severities = list(advisory.severity)
    labels = list(advisory.labels)
    for entry in entries:
        severities.extend(entry.severity)
        labels.extend(entry.labels)
    attributes = [("package_name", package.name), ("package_version", package.version)]
    v3 = v4 = v2 = None
    for item in severities:
        if item.type == "CVSS_V3" and v3 is None:
            v3 = _cvss.score_v3(item.score)
        elif item.type == "CVSS_V4" and v4 is None:
            v4 = _cvss.score_v4(item.score)
        elif item.type == "CVSS_V2" and v2 is None:
            v2 = _cvss.score_v2(item.score)
        elif item.type == "Ubuntu":
            labels.append(item.score)
    if v3 is not None:
        attributes += [("CVSS3_VECTOR", v3.vector), ("CVSS3_SCORE", _format(v3.score))]
    if v2 is not None:
        attributes += [("CVSS2_VECTOR", v2.vector), ("CVSS2_SCORE", _format(v2.score))]
    if v4 is not None:
        attributes += [("CVSS4_VECTOR", v4.vector), ("CVSS4_SCORE", _format(v4.score))]
    if v3 is not None:
        return _from_score(v3.score), tuple(attributes)
    if v4 is not None:
        return _from_score(v4.score), tuple(attributes)
    rated = [_LABEL_SEVERITIES[key] for key in map(_label_key, labels) if key in _LABEL_SEVERITIES]
    if rated:
        return max(rated, key=_rank), tuple(attributes)
    if v2 is not None:
        return _from_score(v2.score, critical=False), tuple(attributes)
    return "UNDEFINED", tuple(attributes)


def _label_key(label: str) -> str:
    return label.strip().rstrip("*").strip().lower()  # Debian marks some urgencies "low**"


def _from_score(score: float, *, critical: bool = True) -> EcrSeverity:
    # CVSS v3/v4 qualitative ratings; v2 has no Critical, 7.0 and above is High.
    if score >= 9.0 and critical:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    if score > 0.0:
        return "LOW"
    return "INFORMATIONAL"


def _format(score: float) -> str:
    return f"{score:.1f}"


def _rank(severity: EcrSeverity) -> int:
    return SEVERITIES.index(severity)
