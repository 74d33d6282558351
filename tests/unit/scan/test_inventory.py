from __future__ import annotations

import importlib.metadata
import io
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from berth.scan.inventory import (
    GoModule,
    Package,
    dpkg_packages,
    extract_file,
    go_build_info,
    go_packages,
    inventory,
    jar_packages,
    parse_os_release,
    parse_rpm_header,
    wanted_path,
)
from berth.scan.layers import read_files
from tests.unit.scan.builders import (
    ALPINE_OS_RELEASE,
    APK_INSTALLED,
    ELF_BASE,
    ELF_FIRST_SECTION,
    ROCKY_OS_RELEASE,
    Entry,
    elf,
    file,
    jar,
    layer,
    opaque,
    openers,
    pom_properties,
    rpm_header,
    rpmdb,
    symlink,
    whiteout,
)

FIXTURES = Path(__file__).parent / "fixtures"
GO_BUILDINFO = (FIXTURES / "go1.19.8-buildinfo.bin").read_bytes()  # from a real go1.19.8 build
SITE = "usr/local/lib/python3.11/site-packages"
DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


def scan(*layers: Sequence[Entry]) -> list[Package]:
    """What a scan does: stream the layers, keep what the parsers want, parse."""
    blobs = openers(*(layer(entries) for entries in layers))
    return inventory(read_files(blobs, wanted_path, extract=extract_file))


def named(packages: Sequence[Package], ecosystem: str) -> dict[str, str]:
    return {p.name: p.version for p in packages if p.ecosystem == ecosystem}


# --- which files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("var/lib/dpkg/status", True),
        ("var/lib/dpkg/status-old", False),
        ("var/lib/dpkg/status.d/base-files", True),
        ("var/lib/dpkg/status.d/base-files.md5sums", False),
        ("lib/apk/db/installed", True),
        ("var/lib/rpm/rpmdb.sqlite", True),
        ("usr/lib/sysimage/rpm/rpmdb.sqlite", True),
        ("var/lib/rpm/Packages", False),
        ("etc/os-release", True),
        ("usr/lib/os-release", True),
        (f"{SITE}/pip-24.0.dist-info/METADATA", True),
        (f"{SITE}/pip-24.0.dist-info/RECORD", False),
        ("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", True),
        ("usr/lib/python3/dist-packages/distro_info-1.0.egg-info", True),
        ("app/node_modules/express/package.json", True),
        ("app/node_modules/@babel/core/package.json", True),
        ("app/node_modules/a/node_modules/b/package.json", True),
        ("app/node_modules/express/lib/package.json", False),
        ("app/node_modules/.package-lock.json", False),
        ("app/package.json", False),
        ("app/my_node_modules/x/package.json", False),
        ("opt/app/lib/app.jar", True),
        ("srv/app.war", True),
        ("usr/local/bin/kubectl", True),
        ("usr/bin/ls", True),
        ("bin/sh", True),
        ("usr/local/go/bin/go", True),
        ("manager", True),
        ("ko-app/server", True),
        ("app/server", True),
        ("usr/share/doc/readme", False),
        ("usr/lib/x86_64-linux-gnu/libc.so.6", False),
    ],
)
def test_wanted_path(path: str, wanted: bool) -> None:
    assert wanted_path(path) is wanted


# --- os-release ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ecosystem", "distro"),
    [
        (DEBIAN_OS_RELEASE, "Debian", "Debian:12"),
        (ALPINE_OS_RELEASE, "Alpine", "Alpine:v3.19"),
        (ROCKY_OS_RELEASE, "Rocky Linux", "Rocky Linux:9"),
        ('ID=ubuntu\nVERSION_ID="22.04"\n', "Ubuntu", "Ubuntu:22.04"),
        ('ID="almalinux"\nVERSION_ID="9.3"\n', "AlmaLinux", "AlmaLinux:9"),
        ('ID="rhel"\nVERSION_ID="8.9"\n', "Red Hat", "Red Hat:8"),
        ('ID="sles"\nVERSION_ID="15.5"\n', "SUSE", "SUSE:Linux Enterprise Server 15 SP5"),
        ('ID="opensuse-leap"\nVERSION_ID="15.5"\n', "openSUSE", "openSUSE:Leap 15.5"),
        ("ID=wolfi\nVERSION_ID=20230201\n", "Wolfi", "Wolfi"),
        ("ID=fedora\nVERSION_ID=39\n", None, "fedora:39"),
        ("ID=debian\n# testing has no VERSION_ID\n", "Debian", None),
    ],
)
def test_os_release(text: str, ecosystem: str | None, distro: str | None) -> None:
    release = parse_os_release(text.encode())
    assert (release.ecosystem, release.distro) == (ecosystem, distro)


def test_this_machines_os_release() -> None:
    data = Path("/etc/os-release").read_bytes()
    release = parse_os_release(data)
    if release.id != "debian":
        pytest.skip("not a Debian machine")
    assert release.distro == f"Debian:{release.version_id}"
    assert release.pretty_name and release.pretty_name.startswith("Debian GNU/Linux")


# --- dpkg ----------------------------------------------------------------------------------------


def dpkg_query() -> dict[str, tuple[str, str, str]]:
    """Installed packages as dpkg itself reports them: name → (version, source, source version)."""
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query not installed")
    fmt = "${db:Status-Abbrev}\t${Package}\t${Version}\t${source:Package}\t${source:Version}\n"
    output = subprocess.run(
        ["dpkg-query", "-W", "-f", fmt], check=True, capture_output=True, text=True
    ).stdout
    installed = {}
    for line in output.splitlines():
        status, name, version, source, source_version = line.split("\t")
        if status.startswith("ii") or status.startswith("hi"):
            installed[name] = (version, source, source_version)
    return installed


def test_real_dpkg_status_of_this_machine() -> None:
    status = Path("/var/lib/dpkg/status")
    if not status.exists():
        pytest.skip("no dpkg database on this machine")
    expected = dpkg_query()
    os_release = Path("/etc/os-release").read_bytes()
    packages = scan(
        [
            file("usr/lib/os-release", os_release),
            symlink("etc/os-release", "../usr/lib/os-release"),
            file("var/lib/dpkg/status", status.read_bytes()),
        ]
    )
    release = parse_os_release(os_release)
    assert len(packages) == len(expected) > 50
    for package in packages:
        version, source, source_version = expected[package.name]
        assert package.version == version
        assert (package.source_name or package.name) == source
        assert (package.source_version or package.version) == source_version
        assert package.ecosystem == release.ecosystem == "Debian"
        assert package.distro == release.distro
        assert package.location == "var/lib/dpkg/status"


STATUS = """\
Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL and TLS
 .
 It provides the libssl and libcrypto shared libraries.

Package: removed-but-configured
Status: deinstall ok config-files
Version: 1.0-1

Package: held
Status: hold ok installed
Version: 2.0-1

Package: libgcc-s1
Status: install ok installed
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14+b1

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
Source: bash (5.2.15-2)
"""


def test_dpkg_status_fields() -> None:
    packages = {p.name: p for p in dpkg_packages("var/lib/dpkg/status", STATUS.encode())}
    assert sorted(packages) == ["bash", "held", "libgcc-s1", "libssl3"]
    ssl = packages["libssl3"]
    assert (ssl.version, ssl.source_name, ssl.source_version) == (
        "3.0.11-1~deb12u2",
        "openssl",
        None,
    )
    gcc = packages["libgcc-s1"]
    assert (gcc.source_name, gcc.source_version) == ("gcc-12", "12.2.0-14")
    assert packages["held"].source_name is None


def test_dpkg_status_replaced_in_an_upper_layer_is_read_from_there() -> None:
    upper = STATUS.replace("3.0.11-1~deb12u2", "3.0.13-1~deb12u1")
    packages = scan(
        [file("etc/os-release", DEBIAN_OS_RELEASE), file("var/lib/dpkg/status", STATUS)],
        [file("var/lib/dpkg/status", upper)],
    )
    assert named(packages, "Debian")["libssl3"] == "3.0.13-1~deb12u1"
    assert {p.distro for p in packages} == {"Debian:12"}


def test_distroless_status_d() -> None:
    packages = scan(
        [
            file("etc/os-release", DEBIAN_OS_RELEASE),
            file(
                "var/lib/dpkg/status.d/base-files", "Package: base-files\nVersion: 12.4+deb12u5\n"
            ),
            file(
                "var/lib/dpkg/status.d/base-files.md5sums", "d41d8cd98f00b204e9800998ecf8427e x\n"
            ),
            file(
                "var/lib/dpkg/status.d/libssl3",
                "Package: libssl3\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n",
            ),
        ]
    )
    assert named(packages, "Debian") == {
        "base-files": "12.4+deb12u5",
        "libssl3": "3.0.11-1~deb12u2",
    }
    assert {p.location for p in packages} == {
        "var/lib/dpkg/status.d/base-files",
        "var/lib/dpkg/status.d/libssl3",
    }


def test_ubuntu_dpkg_packages_are_ubuntu() -> None:
    packages = scan(
        [
            file("etc/os-release", 'ID=ubuntu\nVERSION_ID="22.04"\n'),
            file(
                "var/lib/dpkg/status", "Package: zlib1g\nStatus: install ok installed\nVersion: 1\n"
            ),
        ]
    )
    assert [(p.ecosystem, p.distro) for p in packages] == [("Ubuntu", "Ubuntu:22.04")]


# --- apk -----------------------------------------------------------------------------------------


def test_apk_installed() -> None:
    packages = scan(
        [file("etc/os-release", ALPINE_OS_RELEASE), file("lib/apk/db/installed", APK_INSTALLED)]
    )
    assert [(p.name, p.version, p.source_name, p.distro) for p in packages] == [
        ("busybox", "1.36.1-r15", "busybox", "Alpine:v3.19"),
        ("libcrypto3", "3.1.4-r3", "openssl", "Alpine:v3.19"),
        ("musl", "1.2.4_git20230717-r4", "musl", "Alpine:v3.19"),
    ]
    assert {p.ecosystem for p in packages} == {"Alpine"}


def test_apk_without_trailing_blank_line_nor_os_release() -> None:
    packages = scan([file("lib/apk/db/installed", "P:zlib\nV:1.3.1-r0\no:zlib")])
    assert [(p.ecosystem, p.name, p.version, p.distro) for p in packages] == [
        ("Alpine", "zlib", "1.3.1-r0", None)
    ]


# --- rpm -----------------------------------------------------------------------------------------

OPENSSL_LIBS: dict[int, str | int] = {
    1000: "openssl-libs",
    1001: "3.0.7",
    1002: "24.el9",
    1003: 1,
    1022: "x86_64",
    1044: "openssl-3.0.7-24.el9.src.rpm",
}
BASH: dict[int, str | int] = {
    1000: "bash",
    1001: "5.1.8",
    1002: "6.el9_1",
    1022: "x86_64",
    1044: "bash-5.1.8-6.el9_1.src.rpm",
}
GPG_PUBKEY: dict[int, str | int] = {1000: "gpg-pubkey", 1001: "350d275d", 1002: "6279464b"}


def test_rpm_header_blob() -> None:
    header = parse_rpm_header(rpm_header(OPENSSL_LIBS))
    assert (header.name, header.version, header.release, header.epoch) == (
        "openssl-libs",
        "3.0.7",
        "24.el9",
        1,
    )
    assert (header.arch, header.source_rpm) == ("x86_64", "openssl-3.0.7-24.el9.src.rpm")
    assert parse_rpm_header(rpm_header(BASH, region=False)).epoch is None


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
        struct.pack(">II", 5, 100) + b"\x00" * 20,
        rpm_header({1001: "1.0", 1002: "1"}),
        rpm_header(BASH)[:-10],
    ],
    ids=["empty", "no-tags", "truncated-index", "no-name", "truncated-data"],
)
def test_bad_rpm_header_blobs(blob: bytes) -> None:
    with pytest.raises(ValueError, match="rpm header"):
        parse_rpm_header(blob)


def test_rpm_sqlite_database() -> None:
    database = rpmdb([rpm_header(OPENSSL_LIBS), rpm_header(BASH), rpm_header(GPG_PUBKEY), b"junk"])
    packages = scan(
        [file("etc/os-release", ROCKY_OS_RELEASE), file("var/lib/rpm/rpmdb.sqlite", database)]
    )
    assert [(p.ecosystem, p.name, p.version, p.source_name, p.distro) for p in packages] == [
        ("Rocky Linux", "bash", "5.1.8-6.el9_1", "bash", "Rocky Linux:9"),
        ("Rocky Linux", "openssl-libs", "1:3.0.7-24.el9", "openssl", "Rocky Linux:9"),
    ]


def test_rpm_of_a_distribution_osv_does_not_know_is_rpm() -> None:
    database = rpmdb([rpm_header(BASH)])
    packages = scan(
        [
            file("etc/os-release", "ID=fedora\nVERSION_ID=39\n"),
            file("usr/lib/sysimage/rpm/rpmdb.sqlite", database),
        ]
    )
    assert [(p.ecosystem, p.distro) for p in packages] == [("RPM", "fedora:39")]


def test_corrupt_rpmdb_yields_nothing() -> None:
    assert scan([file("var/lib/rpm/rpmdb.sqlite", b"SQLite format 3\x00" + b"\xff" * 2000)]) == []


# --- Python --------------------------------------------------------------------------------------

REAL_DISTRIBUTIONS = ["attrs", "PyYAML", "typing_extensions", "python-dateutil", "zstandard"]


def dist_info_entries(distribution: str, site: str = SITE) -> list[Entry]:
    """The real dist-info folder of a distribution installed in this venv."""
    dist = importlib.metadata.distribution(distribution)
    folder = Path(str(dist._path))  # type: ignore[attr-defined]
    return [
        file(f"{site}/{folder.name}/{item.name}", item.read_bytes())
        for item in sorted(folder.iterdir())
        if item.is_file()
    ]


def expected_pypi(*distributions: str) -> dict[str, str]:
    result = {}
    for name in distributions:
        dist = importlib.metadata.distribution(name)
        canonical = dist.metadata["Name"].replace("_", "-").replace(".", "-").lower()
        result[canonical] = dist.version
    return result


def test_real_dist_info_folders_of_this_venv() -> None:
    entries = [e for name in REAL_DISTRIBUTIONS for e in dist_info_entries(name)]
    packages = scan(entries)
    assert named(packages, "PyPI") == expected_pypi(*REAL_DISTRIBUTIONS)
    assert named(packages, "PyPI")["pyyaml"] == importlib.metadata.version("PyYAML")
    assert "typing-extensions" in named(packages, "PyPI")


def test_whited_out_dist_info_is_not_reported() -> None:
    attrs = dist_info_entries("attrs")
    folder = attrs[0].path.rpartition("/")[0]
    packages = scan(attrs + dist_info_entries("PyYAML"), [whiteout(folder)])
    assert named(packages, "PyPI") == expected_pypi("PyYAML")


def test_opaque_site_packages_hides_lower_distributions() -> None:
    packages = scan(
        dist_info_entries("attrs") + dist_info_entries("PyYAML"),
        [opaque(SITE), *dist_info_entries("zstandard")],
    )
    assert named(packages, "PyPI") == expected_pypi("zstandard")


def test_egg_info_forms() -> None:
    packages = scan(
        [
            file(
                "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
                "Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\n\nName: body, not a header\n",
            ),
            file(
                "usr/lib/python3/dist-packages/Distro_Info-1.0.egg-info",
                "Metadata-Version: 1.1\nName: Distro_Info\nVersion: 1.0\n",
            ),
            file(f"{SITE}/broken-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: broken\n"),
        ]
    )
    assert named(packages, "PyPI") == {"six": "1.16.0", "distro-info": "1.0"}


# --- npm -----------------------------------------------------------------------------------------


def package_json(name: str, version: str, **extra: object) -> str:
    return json.dumps({"name": name, "version": version, **extra})


def test_node_modules() -> None:
    packages = scan(
        [
            file("app/package.json", package_json("my-app", "1.0.0")),
            file("app/node_modules/express/package.json", package_json("express", "4.17.1")),
            file("app/node_modules/express/lib/package.json", package_json("nested", "0.0.1")),
            file("app/node_modules/@babel/core/package.json", package_json("@babel/core", "7.0.0")),
            file(
                "app/node_modules/express/node_modules/qs/package.json",
                package_json("qs", "6.7.0"),
            ),
            file("app/node_modules/qs/package.json", package_json("qs", "6.11.0")),
            file("app/node_modules/broken/package.json", "{not json"),
            file("app/node_modules/noversion/package.json", '{"name": "noversion"}'),
        ]
    )
    npm = sorted((p.name, p.version, p.location) for p in packages if p.ecosystem == "npm")
    assert npm == [
        ("@babel/core", "7.0.0", "app/node_modules/@babel/core/package.json"),
        ("express", "4.17.1", "app/node_modules/express/package.json"),
        ("qs", "6.11.0", "app/node_modules/qs/package.json"),
        ("qs", "6.7.0", "app/node_modules/express/node_modules/qs/package.json"),
    ]


# --- Java ----------------------------------------------------------------------------------------


def test_jar_with_pom_properties_and_nested_jars() -> None:
    inner = jar(dict([pom_properties("org.yaml", "snakeyaml", "1.33")]))
    outer = jar(
        dict(
            [
                pom_properties("com.example", "app", "1.0.0"),
                ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
                ("BOOT-INF/lib/snakeyaml-1.33.jar", inner),
                ("BOOT-INF/lib/unidentified.jar", jar({"a.class": b"\xca\xfe"})),
            ]
        )
    )
    expected = [
        ("com.example:app", "1.0.0", "app/app.jar"),
        ("org.yaml:snakeyaml", "1.33", "app/app.jar!/BOOT-INF/lib/snakeyaml-1.33.jar"),
    ]
    assert [(p.name, p.version, p.location) for p in jar_packages("app/app.jar", outer)] == expected
    # Through read_files with the extract hook, only a slim copy of the jar is kept.
    files = read_files(
        openers(layer([file("app/app.jar", outer)])), wanted_path, extract=extract_file
    )
    assert len(files["app/app.jar"]) < len(outer)
    assert [(p.name, p.version, p.location) for p in inventory(files)] == expected


def test_corrupt_and_unidentifiable_jars_yield_nothing() -> None:
    assert scan([file("app/bad.jar", b"PK\x03\x04 not really"), file("app/x.jar", jar({}))]) == []


@pytest.mark.parametrize("name", ["guava", "commons-lang3"])
def test_real_jar_of_this_machine(name: str) -> None:
    candidates = sorted(Path("/usr/share/java").glob(f"{name}-[0-9]*.jar"))
    if not candidates:
        pytest.skip(f"no {name} jar on this machine")
    versioned = candidates[0]  # its file name says the version: guava-31.1-jre.jar
    version = versioned.name.removeprefix(f"{name}-").removesuffix(".jar")
    packages = scan(
        [
            file(f"usr/share/java/{name}.jar", versioned.resolve().read_bytes()),
            symlink(f"usr/share/java/{versioned.name}", f"{name}.jar"),
        ]
    )
    # The symlink is the same file, reported once.
    assert [(p.ecosystem, p.name.split(":")[1], p.version) for p in packages] == [
        ("Maven", name, version)
    ]


# --- Go ------------------------------------------------------------------------------------------


def test_real_go_buildinfo_in_an_elf_section() -> None:
    binary = elf({".text": b"\x90" * 64, ".go.buildinfo": GO_BUILDINFO})
    info = go_build_info(binary)
    assert info is not None
    assert (info.go_version, info.path) == ("go1.19.8", "example.com/hello")
    assert info.main == GoModule("example.com/hello", "(devel)")
    assert [(d.path, d.version) for d in info.deps] == [("example.com/vulnlib", "v1.2.3")]
    assert [(p.name, p.version) for p in go_packages("usr/local/bin/hello", binary)] == [
        ("stdlib", "v1.19.8"),
        ("example.com/vulnlib", "v1.2.3"),
    ]


def test_go_buildinfo_found_without_section_headers() -> None:
    decoy = b"\xff Go buildinf:\x03\x00" + bytes(64)  # the magic, but no valid header
    binary = elf({".rodata": decoy, ".data": GO_BUILDINFO}, section_headers=False)
    info = go_build_info(binary)
    assert info is not None and info.go_version == "go1.19.8"


def pointer_buildinfo(version: bytes, modinfo: bytes, *, big_endian: bool = False) -> bytes:
    """A Go < 1.18 .go.buildinfo section: pointers to string headers (pointer, length)."""
    order = ">" if big_endian else "<"
    address = ELF_BASE + ELF_FIRST_SECTION
    version_header, modinfo_header = address + 32, address + 48
    version_data = address + 64
    modinfo_data = version_data + len(version)
    return (
        b"\xff Go buildinf:"
        + bytes([8, 1 if big_endian else 0])
        + struct.pack(order + "QQ", version_header, modinfo_header)
        + struct.pack(order + "QQ", version_data, len(version))
        + struct.pack(order + "QQ", modinfo_data, len(modinfo))
        + version
        + modinfo
    )


def test_go_before_1_18_pointer_format() -> None:
    marker = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
    end = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
    modinfo = (
        marker
        + b"path\tgithub.com/acme/tool\n"
        + b"mod\tgithub.com/acme/tool\tv0.3.0\th1:abc=\n"
        + b"dep\tgolang.org/x/net\tv0.0.0-20210226172049-e18ecbb05110\th1:x=\n"
        + b"dep\tgithub.com/old/lib\tv1.0.0\n"
        + b"=>\tgithub.com/fork/lib\tv1.0.1\th1:y=\n"
        + b"dep\tgithub.com/local/lib\tv0.1.0\n"
        + b"=>\t../lib\t\n"
        + end
    )
    binary = elf({".go.buildinfo": pointer_buildinfo(b"go1.16.15", modinfo)})
    expected = [
        ("stdlib", "v1.16.15"),
        ("github.com/acme/tool", "v0.3.0"),
        ("golang.org/x/net", "v0.0.0-20210226172049-e18ecbb05110"),
        ("github.com/fork/lib", "v1.0.1"),
    ]
    assert [(p.name, p.version) for p in go_packages("app/tool", binary)] == expected
    # extract_file turns any layout into Go 1.18's inline blob, which parses the same.
    slim = extract_file("app/tool", io.BytesIO(binary), len(binary))
    assert slim is not None and len(slim) < len(binary)
    assert [(p.name, p.version) for p in go_packages("app/tool", slim)] == expected


@pytest.mark.parametrize(
    ("go_version", "stdlib"),
    [
        ("go1.21.5", "v1.21.5"),
        ("go1.22", "v1.22.0"),
        ("go1.21rc2", "v1.21.0-rc.2"),
        ("devel +abc", None),
    ],
)
def test_go_stdlib_versions(go_version: str, stdlib: str | None) -> None:
    modinfo = b"path\tx\nmod\tx\t(devel)\t\n"
    blob = (
        b"\xff Go buildinf:\x08\x02"
        + bytes(16)
        + bytes([len(go_version)])
        + go_version.encode()
        + bytes([len(modinfo)])
        + modinfo
    )
    versions = {p.name: p.version for p in go_packages("bin/x", blob)}
    assert versions.get("stdlib") == stdlib


def test_executables_that_are_not_go_are_dropped_cheaply() -> None:
    script = b"#!/bin/sh\necho hi\n"
    assert extract_file("usr/bin/hello", io.BytesIO(script), len(script)) is None
    real_elf = Path("/bin/sh").resolve()
    if real_elf.read_bytes()[:4] == b"\x7fELF":
        data = real_elf.read_bytes()
        assert extract_file("bin/sh", io.BytesIO(data), len(data)) is None
        assert go_build_info(data) is None


def test_go_binaries_in_an_image() -> None:
    binary = elf({".go.buildinfo": GO_BUILDINFO})
    packages = scan(
        [
            file("usr/local/bin/hello", binary, mode=0o755),
            symlink("usr/bin/hello", "/usr/local/bin/hello"),
            file("usr/bin/script", "#!/bin/sh\n", mode=0o755),
        ]
    )
    assert [(p.name, p.location) for p in packages] == [
        ("example.com/vulnlib", "usr/bin/hello"),
        ("stdlib", "usr/bin/hello"),
    ]


@pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain")
def test_binary_built_by_the_real_go_toolchain(tmp_path: Path) -> None:
    """Builds a program depending on a module served from a local file proxy (no network), and
    compares with what `go version -m` reads from the same binary."""
    proxy = tmp_path / "proxy/example.com/vulnlib/@v"
    proxy.mkdir(parents=True)
    (proxy / "v1.2.3.zip").write_bytes(
        jar(  # a module zip: files only, under "<module>@<version>/"
            {
                "example.com/vulnlib@v1.2.3/go.mod": b"module example.com/vulnlib\n\ngo 1.17\n",
                "example.com/vulnlib@v1.2.3/lib.go": (
                    b'package vulnlib\n\nfunc Hello() string { return "hi" }\n'
                ),
            }
        )
    )
    (proxy / "v1.2.3.mod").write_text("module example.com/vulnlib\n\ngo 1.17\n")
    (proxy / "v1.2.3.info").write_text('{"Version":"v1.2.3","Time":"2024-01-01T00:00:00Z"}')
    (proxy / "list").write_text("v1.2.3\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "go.mod").write_text(
        "module example.com/hello\n\ngo 1.17\n\nrequire example.com/vulnlib v1.2.3\n"
    )
    (app / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/vulnlib"\n)\n\n'
        "func main() { fmt.Println(vulnlib.Hello()) }\n"
    )
    env = {
        **os.environ,
        "GOPROXY": f"file://{tmp_path / 'proxy'}",
        "GOSUMDB": "off",
        "GOFLAGS": "-mod=mod -modcacherw",
        "GOPATH": str(tmp_path / "gopath"),
        "GOTOOLCHAIN": "local",
    }
    subprocess.run(
        ["go", "build", "-o", "hello", "."], cwd=app, env=env, check=True, capture_output=True
    )
    binary = (app / "hello").read_bytes()
    shown = subprocess.run(
        ["go", "version", "-m", "hello"],
        cwd=app,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    deps = {
        (fields[1], fields[2])
        for fields in (line.strip().split("\t") for line in shown.splitlines())
        if fields[0] == "dep"
    }
    assert deps == {("example.com/vulnlib", "v1.2.3")}
    packages = scan([file("usr/local/bin/hello", binary, mode=0o755)])
    go_version = shown.splitlines()[0].split(": ", 1)[1]
    assert {(p.name, p.version) for p in packages} == {
        *deps,
        ("stdlib", "v" + go_version.removeprefix("go")),
    }
