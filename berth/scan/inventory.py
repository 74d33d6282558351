"""What is installed in an image, from the files its package managers and builds leave behind.

`wanted_path` tells `layers.read_files` which files to read and `extract_file` shrinks the big
ones as they stream past (a Go binary to its build info, a jar to its pom.properties files);
`inventory` then parses the result. Every parser is lenient: a file it cannot make sense of
yields no packages, it does not fail the scan.

Ecosystem names are OSV's, so that a package can be looked up in an OSV database as it is.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shlex
import sqlite3
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO

logger = logging.getLogger(__name__)

LANGUAGE_ECOSYSTEMS = frozenset({"PyPI", "npm", "Go", "Maven"})


@dataclass(frozen=True, slots=True)
class Package:
    ecosystem: str  # OSV ecosystem, without release: "Debian", "Alpine", "Rocky Linux", "PyPI"...
    name: str
    version: str
    location: str  # the file it was found in, normalised ("var/lib/dpkg/status")
    source_name: str | None = None  # dpkg Source, apk origin, rpm source package
    distro: str | None = None  # OSV ecosystem with release, "Debian:12"; OS packages only
    # dpkg only: a binNMU or a source building binaries of another version ("Source: x (1.2-3)")
    # has a source version of its own, and Debian advisories are about source versions.
    source_version: str | None = None


@dataclass(frozen=True, slots=True)
class OsRelease:
    id: str
    version_id: str | None
    pretty_name: str | None
    ecosystem: str | None  # OSV ecosystem of its packages, None when OSV has none for it
    distro: str | None  # what Package.distro says for its packages


@dataclass(frozen=True, slots=True)
class RpmHeader:
    name: str
    version: str
    release: str
    epoch: int | None
    arch: str | None
    source_rpm: str | None


@dataclass(frozen=True, slots=True)
class GoModule:
    path: str
    version: str
    sum: str | None = None
    replace: GoModule | None = None


@dataclass(frozen=True, slots=True)
class GoBuildInfo:
    go_version: str  # as the binary says it: "go1.22.1"
    path: str | None  # the main package's import path
    main: GoModule | None
    deps: tuple[GoModule, ...]


# --- which files ---------------------------------------------------------------------------------

_DPKG_STATUS = "var/lib/dpkg/status"
_DPKG_STATUS_D = "var/lib/dpkg/status.d/"
_APK_INSTALLED = "lib/apk/db/installed"
_RPMDBS = frozenset({"var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"})
_OS_RELEASES = ("etc/os-release", "usr/lib/os-release")  # in order of precedence
_JAR_SUFFIXES = (".jar", ".war", ".ear")
# Where images keep executables. Any directory named bin or sbin counts (usr/local/go/bin,
# opt/x/bin), and so do files at the root and in /app and /ko-app, where distroless and ko
# images put their one binary.
_BIN_DIR_NAMES = frozenset({"bin", "sbin"})
_BIN_DIRS = frozenset({"", "app", "ko-app"})
_NODE_MODULES = "node_modules/"


def _kind(path: str) -> str | None:
    if path == _DPKG_STATUS:
        return "dpkg"
    if path.startswith(_DPKG_STATUS_D):
        rest = path[len(_DPKG_STATUS_D) :]
        return "dpkg" if "/" not in rest and not rest.endswith(".md5sums") else None
    if path == _APK_INSTALLED:
        return "apk"
    if path in _RPMDBS:
        return "rpm"
    if path in _OS_RELEASES:
        return "os-release"
    if path.endswith(".dist-info/METADATA") or path.endswith(".egg-info/PKG-INFO"):
        return "python"
    if path.endswith(".egg-info") and ("/site-packages/" in path or "/dist-packages/" in path):
        return "python"  # distutils writes egg-info as a single file
    if path.endswith("/package.json"):
        return "npm" if _is_npm_manifest(path) else None
    if path.endswith(_JAR_SUFFIXES):
        return "jar"
    directory = path.rpartition("/")[0]
    if directory in _BIN_DIRS or directory.rpartition("/")[2] in _BIN_DIR_NAMES:
        return "binary"
    return None


def _is_npm_manifest(path: str) -> bool:
    """node_modules/<name>/package.json or node_modules/@scope/<name>/package.json: the manifest
    of an installed package, not one of the nested ones some packages ship for sub-paths."""
    start = path.rfind(_NODE_MODULES)
    if start == -1 or (start > 0 and path[start - 1] != "/"):
        return False
    parts = path[start + len(_NODE_MODULES) :].split("/")
    if len(parts) == 2:
        return not parts[0].startswith("@") and not parts[0].startswith(".")
    return len(parts) == 3 and parts[0].startswith("@")


def wanted_path(path: str) -> bool:
    """The predicate for `layers.read_files`: files some parser here can use."""
    return _kind(path) is not None


def extract_file(path: str, stream: IO[bytes], size: int) -> bytes | None:
    """The `extract` hook for `layers.read_files`: keeps a Go binary's build info instead of the
    binary and a jar's Maven metadata instead of the jar; other files whole. Returns None for
    executables that are not Go binaries, which are read no further than their first bytes."""
    kind = _kind(path)
    if kind == "jar":
        return _slim_jar(stream.read())
    if kind == "binary":
        head = stream.read(4)
        if head != _ELF_MAGIC:
            return None
        return _slim_go_binary(head + stream.read())
    return stream.read()


# --- the inventory -------------------------------------------------------------------------------


def inventory(files: Mapping[str, bytes]) -> list[Package]:
    """Packages found in `files` (normalised path → content, as `read_files` returns them),
    sorted, without duplicates. A file and the symlinks to it share one bytes object and are
    reported once, at the first of their paths in sorted order."""
    release = os_release(files)
    found: set[Package] = set()
    seen: set[int] = set()
    for path in sorted(files):
        data = files[path]
        kind = _kind(path)
        if kind is None or kind == "os-release":
            continue
        if data:
            if id(data) in seen:
                continue
            seen.add(id(data))
        try:
            found.update(_parse(kind, path, data, release))
        except (ValueError, KeyError, IndexError, struct.error, sqlite3.Error) as exc:
            logger.warning("skipping %s: %s", path, exc)
    return sorted(found, key=lambda p: (p.ecosystem, p.name, p.version, p.location))


def _parse(kind: str, path: str, data: bytes, release: OsRelease | None) -> Iterable[Package]:
    if kind == "dpkg":
        return dpkg_packages(path, data, release)
    if kind == "apk":
        return apk_packages(path, data, release)
    if kind == "rpm":
        return rpm_packages(path, data, release)
    if kind == "python":
        return python_packages(path, data)
    if kind == "npm":
        return npm_packages(path, data)
    if kind == "jar":
        return jar_packages(path, data)
    return go_packages(path, data)


# --- os-release ----------------------------------------------------------------------------------

# os-release ID → OSV ecosystem. IDs missing here have no OSV ecosystem of their own.
_DISTRO_ECOSYSTEMS = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "alpine": "Alpine",
    "wolfi": "Wolfi",
    "chainguard": "Chainguard",
    "rhel": "Red Hat",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "opensuse-leap": "openSUSE",
    "opensuse-tumbleweed": "openSUSE",
    "sles": "SUSE",
    "mageia": "Mageia",
}


def os_release(files: Mapping[str, bytes]) -> OsRelease | None:
    for path in _OS_RELEASES:
        if path in files:
            return parse_os_release(files[path])
    return None


def parse_os_release(data: bytes) -> OsRelease:
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        try:
            words = shlex.split(value)
        except ValueError:  # an unbalanced quote: take the value as it stands
            words = [value.strip("\"'")]
        fields[key] = words[0] if words else ""
    distro_id = fields.get("ID", "").lower()
    version_id = fields.get("VERSION_ID") or None
    ecosystem = _DISTRO_ECOSYSTEMS.get(distro_id)
    return OsRelease(
        id=distro_id,
        version_id=version_id,
        pretty_name=fields.get("PRETTY_NAME") or None,
        ecosystem=ecosystem,
        distro=_distro(ecosystem, distro_id, version_id),
    )


def _distro(ecosystem: str | None, distro_id: str, version_id: str | None) -> str | None:
    """The ecosystem with the release suffix OSV uses for that distribution."""
    if ecosystem in ("Wolfi", "Chainguard"):
        return ecosystem  # rolling, and so are their OSV ecosystems
    if ecosystem is None:
        return f"{distro_id}:{version_id}" if distro_id and version_id else None
    if distro_id == "opensuse-tumbleweed":
        return "openSUSE:Tumbleweed"
    if version_id is None:
        return None
    numbers = version_id.split(".")
    if ecosystem == "Alpine":
        return f"Alpine:v{'.'.join(numbers[:2])}"
    if ecosystem == "Ubuntu":
        return f"Ubuntu:{version_id}"
    if ecosystem == "openSUSE":
        return f"openSUSE:Leap {version_id}"
    if ecosystem == "SUSE":
        service_pack = f" SP{numbers[1]}" if len(numbers) > 1 and numbers[1] != "0" else ""
        return f"SUSE:Linux Enterprise Server {numbers[0]}{service_pack}"
    return f"{ecosystem}:{numbers[0]}"


def _os_fields(
    release: OsRelease | None, default: str, family: frozenset[str]
) -> tuple[str, str | None]:
    """(ecosystem, distro) for OS packages of a package manager family."""
    if release is None:
        return default, None
    if release.ecosystem in family:
        return release.ecosystem, release.distro
    return default, release.distro


_DPKG_FAMILY = frozenset({"Debian", "Ubuntu"})
_APK_FAMILY = frozenset({"Alpine", "Wolfi", "Chainguard"})
_RPM_FAMILY = frozenset({"Red Hat", "Rocky Linux", "AlmaLinux", "openSUSE", "SUSE", "Mageia"})


# --- dpkg ----------------------------------------------------------------------------------------

_SOURCE_FIELD = re.compile(r"(?P<name>[^\s(]+)(?:\s*\((?P<version>[^)]+)\))?")


def dpkg_packages(path: str, data: bytes, release: OsRelease | None = None) -> list[Package]:
    """Installed packages of a dpkg status file, or of one distroless status.d file."""
    ecosystem, distro = _os_fields(release, "Debian", _DPKG_FAMILY)
    packages = []
    for fields in _stanzas(data.decode("utf-8", "replace")):
        status = fields.get("Status")
        # Want and error flags aside ("hold ok installed" is installed too); distroless
        # status.d files have no Status at all and list installed packages only.
        if status is not None and status.split()[-1:] != ["installed"]:
            continue
        name, version = fields.get("Package"), fields.get("Version")
        if not name or not version:
            continue
        source_name = source_version = None
        source = _SOURCE_FIELD.match(fields.get("Source", ""))
        if source:
            source_name = source["name"]
            source_version = source["version"]
        packages.append(
            Package(ecosystem, name, version, path, source_name, distro, source_version)
        )
    return packages


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """Paragraphs of a deb822 file as {field: first line of its value}."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields = {}
        elif not line[0].isspace():
            key, sep, value = line.partition(":")
            if sep:
                fields[key] = value.strip()
    if fields:
        yield fields


# --- apk -----------------------------------------------------------------------------------------


def apk_packages(path: str, data: bytes, release: OsRelease | None = None) -> list[Package]:
    ecosystem, distro = _os_fields(release, "Alpine", _APK_FAMILY)
    packages = []
    record: dict[str, str] = {}
    for line in [*data.decode("utf-8", "replace").splitlines(), ""]:
        if not line.strip():
            if record.get("P") and record.get("V"):
                packages.append(
                    Package(ecosystem, record["P"], record["V"], path, record.get("o"), distro)
                )
            record = {}
            continue
        key, sep, value = line.partition(":")
        if sep and len(key) == 1:
            record.setdefault(key, value)  # repeated keys (F:, R:) list files; the first will do
    return packages


# --- rpm -----------------------------------------------------------------------------------------

_RPMTAG_NAME = 1000
_RPMTAG_VERSION = 1001
_RPMTAG_RELEASE = 1002
_RPMTAG_EPOCH = 1003
_RPMTAG_ARCH = 1022
_RPMTAG_SOURCERPM = 1044
_RPM_INT32 = 4
_RPM_STRING = 6
_RPM_I18NSTRING = 9
_RPM_MAX_TAGS = 0x10000
_RPM_MAX_DATA = 256 << 20


def rpm_packages(path: str, data: bytes, release: OsRelease | None = None) -> list[Package]:
    """Packages of an rpm sqlite database (rpm ≥ 4.16). BerkeleyDB and NDB databases of older
    distributions are not read."""
    ecosystem, distro = _os_fields(release, "RPM", _RPM_FAMILY)
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(data)
        blobs = [row[0] for row in connection.execute("SELECT blob FROM Packages")]
    finally:
        connection.close()
    packages = []
    for blob in blobs:
        try:
            header = parse_rpm_header(bytes(blob))
        except ValueError as exc:
            logger.warning("skipping an rpm header in %s: %s", path, exc)
            continue
        if header.name == "gpg-pubkey":  # imported signing keys, not software
            continue
        version = f"{header.version}-{header.release}"
        if header.epoch:
            version = f"{header.epoch}:{version}"
        source = _rpm_source_name(header.source_rpm)
        packages.append(Package(ecosystem, header.name, version, path, source, distro))
    return packages


def parse_rpm_header(blob: bytes) -> RpmHeader:
    """The fields Berth needs from an rpm header blob as rpmdb stores it: index length and data
    length (big-endian int32 each), index entries of (tag, type, offset, count), the data."""
    if len(blob) < 8:
        raise ValueError("rpm header shorter than its preamble")
    count, data_length = struct.unpack_from(">II", blob)
    if not 0 < count < _RPM_MAX_TAGS or data_length > _RPM_MAX_DATA:
        raise ValueError(f"implausible rpm header ({count} tags, {data_length} bytes)")
    store = 8 + 16 * count
    if len(blob) < store + data_length:
        raise ValueError("rpm header truncated")
    data = blob[store : store + data_length]
    values: dict[int, str | int] = {}
    for index in range(count):
        tag, kind, offset, items = struct.unpack_from(">IIII", blob, 8 + 16 * index)
        if tag not in _RPM_TAGS or offset >= data_length:
            continue
        if kind in (_RPM_STRING, _RPM_I18NSTRING):
            end = data.find(b"\0", offset)
            if end == -1:
                raise ValueError(f"rpm tag {tag} runs past the header")
            values[tag] = data[offset:end].decode("utf-8", "replace")
        elif kind == _RPM_INT32 and items >= 1 and offset + 4 <= data_length:
            values[tag] = struct.unpack_from(">I", data, offset)[0]
    name, version, release = (values.get(t) for t in _RPM_REQUIRED)
    if not isinstance(name, str) or not isinstance(version, str) or not isinstance(release, str):
        raise ValueError("rpm header lacks name, version or release")
    epoch, arch, source = (values.get(t) for t in (_RPMTAG_EPOCH, _RPMTAG_ARCH, _RPMTAG_SOURCERPM))
    return RpmHeader(
        name=name,
        version=version,
        release=release,
        epoch=epoch if isinstance(epoch, int) else None,
        arch=arch if isinstance(arch, str) else None,
        source_rpm=source if isinstance(source, str) else None,
    )


_RPM_REQUIRED = (_RPMTAG_NAME, _RPMTAG_VERSION, _RPMTAG_RELEASE)
_RPM_TAGS = frozenset({*_RPM_REQUIRED, _RPMTAG_EPOCH, _RPMTAG_ARCH, _RPMTAG_SOURCERPM})


def _rpm_source_name(source_rpm: str | None) -> str | None:
    """ "openssl-3.0.7-27.el9.src.rpm" → "openssl"."""
    if not source_rpm:
        return None
    stem = source_rpm.removesuffix(".rpm").removesuffix(".src").removesuffix(".nosrc")
    parts = stem.rsplit("-", 2)
    return parts[0] if len(parts) == 3 and parts[0] else None


# --- Python --------------------------------------------------------------------------------------


def normalise_pypi_name(name: str) -> str:
    """PEP 503 normalisation, the form OSV matching and purls use."""
    return re.sub(r"[-_.]+", "-", name).lower()


def python_packages(path: str, data: bytes) -> list[Package]:
    """A distribution from core metadata (dist-info METADATA, egg-info PKG-INFO)."""
    headers: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break  # the body (long description) starts
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            headers.setdefault(key.strip().lower(), value.strip())
    name, version = headers.get("name"), headers.get("version")
    if not name or not version:
        return []
    return [Package("PyPI", normalise_pypi_name(name), version, path)]


# --- npm -----------------------------------------------------------------------------------------


def npm_packages(path: str, data: bytes) -> list[Package]:
    manifest = json.loads(data)
    if not isinstance(manifest, dict):
        return []
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return []
    return [Package("npm", name, version, path)]


# --- Java ----------------------------------------------------------------------------------------

_POM_PROPERTIES = re.compile(r"META-INF/maven/[^/]+/[^/]+/pom\.properties")
_MAX_POM_PROPERTIES = 1 << 20
_MAX_NESTED_JAR = 64 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError)


def jar_packages(path: str, data: bytes) -> list[Package]:
    """Maven artifacts of a jar (or war, ear) from its pom.properties files, and from those of
    the jars it holds one level down (Spring Boot's BOOT-INF/lib, a war's WEB-INF/lib), which
    are reported at "<outer>!/<inner>". Jars without pom.properties are not identified."""
    packages = []
    for location, properties in _pom_properties(path, data, nested=True):
        fields = _java_properties(properties)
        group, artifact, version = (fields.get(k) for k in ("groupId", "artifactId", "version"))
        if group and artifact and version:
            packages.append(Package("Maven", f"{group}:{artifact}", version, location))
    return packages


def _pom_properties(path: str, data: bytes, *, nested: bool) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = info.filename
                if _POM_PROPERTIES.fullmatch(name) and info.file_size <= _MAX_POM_PROPERTIES:
                    yield path, archive.read(info)
                elif nested and name.endswith(_JAR_SUFFIXES) and info.file_size <= _MAX_NESTED_JAR:
                    yield from _pom_properties(f"{path}!/{name}", archive.read(info), nested=False)
    except _ZIP_ERRORS as exc:
        logger.warning("skipping unreadable archive %s: %s", path, exc)


def _slim_jar(data: bytes) -> bytes | None:
    """A zip with only what `jar_packages` reads: the pom.properties files of the jar and, under
    their own names, of its nested jars."""
    kept: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = info.filename
                if _POM_PROPERTIES.fullmatch(name) and info.file_size <= _MAX_POM_PROPERTIES:
                    kept[name] = archive.read(info)
                elif name.endswith(_JAR_SUFFIXES) and info.file_size <= _MAX_NESTED_JAR:
                    inner = dict(_named_pom_properties(archive.read(info)))
                    if inner:
                        kept[name] = _zip(inner)
    except _ZIP_ERRORS:
        return None
    return _zip(kept) if kept else None


def _named_pom_properties(data: bytes) -> Iterator[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                name = info.filename
                if _POM_PROPERTIES.fullmatch(name) and info.file_size <= _MAX_POM_PROPERTIES:
                    yield name, archive.read(info)
    except _ZIP_ERRORS:
        return


def _zip(entries: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()


def _java_properties(data: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for raw in data.decode("latin-1").splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)", line)
        if match:
            fields[match[1]] = match[2].strip()
    return fields


# --- Go ------------------------------------------------------------------------------------------

_ELF_MAGIC = b"\x7fELF"
_BUILDINFO_MAGIC = b"\xff Go buildinf:"
_BUILDINFO_HEADER = 32
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
_MAX_GO_STRING = 16 << 20
# runtime/debug wraps modinfo in these 16-byte markers so the linker can find it.
_MODINFO_MARKER = 16


def go_packages(path: str, data: bytes) -> list[Package]:
    """The modules a Go binary was built from (replacements applied; local replacements,
    which have no version, left out), its main module, and the standard library as "stdlib"."""
    info = go_build_info(data)
    if info is None:
        return []
    packages = []
    stdlib = _go_semver(info.go_version)
    if stdlib is not None:
        packages.append(Package("Go", "stdlib", stdlib, path))
    for module in (info.main, *info.deps):
        if module is None:
            continue
        effective = module.replace or module
        if effective.version and effective.version != "(devel)":
            packages.append(Package("Go", effective.path, effective.version, path))
    return packages


def go_build_info(data: bytes) -> GoBuildInfo | None:
    """Build info of a Go ≥ 1.13 ELF binary, or of the blob `extract_file` keeps of one (Go
    1.18's inline layout). None when `data` is no Go binary or was built without modules."""
    strings = _buildinfo_strings(data)
    if strings is None:
        return None
    go_version, modinfo = strings
    if len(modinfo) >= 2 * _MODINFO_MARKER + 1 and modinfo[-_MODINFO_MARKER - 1] == 0x0A:
        modinfo = modinfo[_MODINFO_MARKER:-_MODINFO_MARKER]
    path = None
    main: GoModule | None = None
    deps: list[GoModule] = []
    for line in modinfo.decode("utf-8", "replace").splitlines():
        fields = line.split("\t")
        if fields[0] == "path" and len(fields) >= 2:
            path = fields[1]
        elif fields[0] in ("mod", "dep") and len(fields) >= 3:
            module = GoModule(
                fields[1], fields[2], fields[3] if len(fields) > 3 and fields[3] else None
            )
            if fields[0] == "mod":
                main = module
            else:
                deps.append(module)
        elif fields[0] == "=>" and len(fields) >= 3:  # replaces the module on the line before
            replace = GoModule(
                fields[1], fields[2], fields[3] if len(fields) > 3 and fields[3] else None
            )
            if deps:
                deps[-1] = GoModule(deps[-1].path, deps[-1].version, deps[-1].sum, replace)
            elif main is not None:
                main = GoModule(main.path, main.version, main.sum, replace)
    return GoBuildInfo(go_version.decode("utf-8", "replace"), path, main, tuple(deps))


def _slim_go_binary(data: bytes) -> bytes | None:
    """Go 1.18's inline build info blob for a Go binary of any version, None for other ELFs."""
    strings = _buildinfo_strings(data)
    if strings is None:
        return None
    go_version, modinfo = strings
    header = _BUILDINFO_MAGIC + bytes([8, _FLAG_INLINE]) + bytes(16)
    return header + _uvarint(len(go_version)) + go_version + _uvarint(len(modinfo)) + modinfo


def _buildinfo_strings(data: bytes) -> tuple[bytes, bytes] | None:
    elf = _Elf.parse(data) if data.startswith(_ELF_MAGIC) else None
    candidates: list[int] = []
    if elf is not None and ".go.buildinfo" in elf.sections:
        candidates.append(elf.sections[".go.buildinfo"])
    # Without section headers (stripped by some tools) Go itself scans the data for the magic;
    # so do we, and the blob extract_file keeps starts with it.
    position = data.find(_BUILDINFO_MAGIC)
    while position != -1 and len(candidates) < 64:
        candidates.append(position)
        position = data.find(_BUILDINFO_MAGIC, position + 1)
    for offset in candidates:
        strings = _decode_buildinfo(data, offset, elf)
        if strings is not None:
            return strings
    return None


def _decode_buildinfo(data: bytes, offset: int, elf: _Elf | None) -> tuple[bytes, bytes] | None:
    header = data[offset : offset + _BUILDINFO_HEADER]
    if len(header) < _BUILDINFO_HEADER or not header.startswith(_BUILDINFO_MAGIC):
        return None
    pointer_size, flags = header[14], header[15]
    if flags & _FLAG_INLINE:
        version, position = _varint_string(data, offset + _BUILDINFO_HEADER)
        if version is None:
            return None
        modinfo, _ = _varint_string(data, position)
        if modinfo is None:
            return None
        return version, modinfo
    # Before Go 1.18: two pointers to Go string headers elsewhere in the binary.
    if elf is None or pointer_size not in (4, 8):
        return None
    word = ">" if flags & _FLAG_BIG_ENDIAN else "<"
    word += "Q" if pointer_size == 8 else "I"
    version_address = struct.unpack_from(word, data, offset + 16)[0]
    modinfo_address = struct.unpack_from(word, data, offset + 16 + pointer_size)[0]
    version = elf.go_string(version_address, word, pointer_size)
    modinfo = elf.go_string(modinfo_address, word, pointer_size)
    if not version or modinfo is None:
        return None
    return version, modinfo


def _varint_string(data: bytes, position: int) -> tuple[bytes | None, int]:
    length = shift = 0
    while position < len(data) and shift < 64:
        byte = data[position]
        position += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if length > _MAX_GO_STRING or position + length > len(data):
                return None, position
            return data[position : position + length], position + length
    return None, position


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _go_semver(go_version: str) -> str | None:
    """ "go1.21.5" → "v1.21.5", "go1.21rc2" → "v1.21.0-rc.2", "go1.19" → "v1.19.0"; the form Go
    vulnerability data uses for the standard library. None for development builds."""
    match = re.fullmatch(
        r"go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?",
        go_version.split()[0] if go_version else "",
    )
    if match is None:
        return None
    major, minor, patch, stage, number = match.groups()
    version = f"v{major}.{minor}.{patch or 0}"
    return f"{version}-{stage}.{number}" if stage else version


@dataclass(frozen=True, slots=True)
class _Elf:
    data: bytes
    sections: dict[str, int]  # name → file offset
    segments: tuple[tuple[int, int, int], ...]  # loadable (virtual address, file offset, size)

    @classmethod
    def parse(cls, data: bytes) -> _Elf | None:
        if len(data) < 0x40 or data[4] not in (1, 2) or data[5] not in (1, 2):
            return None
        is64 = data[4] == 2
        order = "<" if data[5] == 1 else ">"
        address = "Q" if is64 else "I"
        try:
            if is64:
                phoff, shoff = struct.unpack_from(order + "QQ", data, 0x20)
                phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
                    order + "HHHHH", data, 0x36
                )
            else:
                phoff, shoff = struct.unpack_from(order + "II", data, 0x1C)
                phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(
                    order + "HHHHH", data, 0x2A
                )
            segments = []
            for i in range(phnum):
                base = phoff + i * phentsize
                kind = struct.unpack_from(order + "I", data, base)[0]
                if kind != 1:  # PT_LOAD
                    continue
                if is64:
                    offset, vaddr, _, filesz = struct.unpack_from(order + "QQQQ", data, base + 8)
                else:
                    offset, vaddr, _, filesz = struct.unpack_from(order + "IIII", data, base + 4)
                segments.append((vaddr, offset, filesz))
            headers = []
            for i in range(shnum):
                base = shoff + i * shentsize
                name = struct.unpack_from(order + "I", data, base)[0]
                field = base + (24 if is64 else 16)
                offset, size = struct.unpack_from(order + address * 2, data, field)
                headers.append((name, offset, size))
            sections: dict[str, int] = {}
            if headers and shstrndx < len(headers):
                names_offset = headers[shstrndx][1]
                for name, offset, _ in headers:
                    start = names_offset + name
                    end = data.find(b"\0", start)
                    if end != -1:
                        sections[data[start:end].decode("ascii", "replace")] = offset
        except struct.error:
            return None
        return cls(data, sections, tuple(segments))

    def read(self, address: int, size: int) -> bytes | None:
        for vaddr, offset, filesz in self.segments:
            if vaddr <= address and address + size <= vaddr + filesz:
                start = offset + address - vaddr
                return self.data[start : start + size]
        return None

    def go_string(self, address: int, word: str, pointer_size: int) -> bytes | None:
        header = self.read(address, 2 * pointer_size)
        if header is None or len(header) < 2 * pointer_size:
            return None
        pointer = struct.unpack_from(word, header, 0)[0]
        length = struct.unpack_from(word, header, pointer_size)[0]
        if length > _MAX_GO_STRING:
            return None
        return self.read(pointer, length)
