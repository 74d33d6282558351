from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tracemalloc
from pathlib import Path
from typing import IO

import pytest
import zstandard

from berth.scan.layers import LayerError, list_files, path_matcher, read_files
from tests.unit.scan.builders import (
    Blobs,
    Compression,
    directory,
    fifo,
    file,
    hardlink,
    layer,
    opaque,
    openers,
    symlink,
    tar_bytes,
    whiteout,
)


def everything(path: str) -> bool:
    return True


COMPRESSIONS: list[Compression] = ["gzip", "zstd", "none"]


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_reads_wanted_files_of_any_compression(compression: Compression) -> None:
    blob = layer(
        [directory("etc"), file("etc/os-release", "ID=debian\n"), file("etc/hostname", "x")],
        compression,
    )
    files = read_files(openers(blob), lambda p: p == "etc/os-release")
    assert files == {"etc/os-release": b"ID=debian\n"}


def test_compression_is_detected_from_content_in_every_layer() -> None:
    blobs = [
        layer([file("a", "1")], "zstd"),
        layer([file("b", "2")], "none"),
        layer([file("c", "3")], "gzip"),
    ]
    assert read_files(openers(*blobs), everything) == {"a": b"1", "b": b"2", "c": b"3"}


def test_concatenated_compressed_members_are_read_through() -> None:
    data = tar_bytes([file("a", "x" * 5000), file("b", "y")])
    gz = gzip.compress(data[:3000]) + gzip.compress(data[3000:])
    zst = zstandard.ZstdCompressor().compress(data[:3000]) + zstandard.ZstdCompressor(
        write_checksum=True
    ).compress(data[3000:])
    for blob in (gz, zst):
        assert read_files(openers(blob), everything) == {"a": b"x" * 5000, "b": b"y"}


def test_zstd_without_content_size_as_streaming_writers_make_it() -> None:
    data = tar_bytes([file("usr/bin/tool", b"\0" * 300_000), file("etc/x", "1")])
    output = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(output, closefd=False) as writer:
        for start in range(0, len(data), 65536):
            writer.write(data[start : start + 65536])
    assert read_files(openers(output.getvalue()), lambda p: p == "etc/x") == {"etc/x": b"1"}


@pytest.mark.parametrize("name", ["./etc/x", "/etc/x", "etc//x", "etc/./x", "../etc/x"])
def test_paths_are_normalised(name: str) -> None:
    assert read_files(openers(layer([file(name, "1")])), lambda p: p == "etc/x") == {"etc/x": b"1"}


def test_later_layers_override_earlier_ones() -> None:
    blobs = openers(
        layer([file("var/lib/dpkg/status", "old"), file("keep", "k")]),
        layer([file("var/lib/dpkg/status", "new")]),
    )
    assert read_files(blobs, everything) == {"var/lib/dpkg/status": b"new", "keep": b"k"}


def test_whiteout_deletes_a_file_of_a_lower_layer() -> None:
    blobs = openers(
        layer([file("a/x", "1"), file("a/y", "2")]),
        layer([whiteout("a/x")]),
    )
    assert read_files(blobs, everything) == {"a/y": b"2"}


def test_whiteout_deletes_a_directory_and_everything_below() -> None:
    site = "usr/lib/python3/site-packages"
    blobs = openers(
        layer(
            [
                file(f"{site}/requests-2.31.0.dist-info/METADATA", "Name: requests"),
                file(f"{site}/requests-2.31.0.dist-info/deep/er", "x"),
                file(f"{site}/requests-2.31.0.dist-info-sibling", "stays"),
            ]
        ),
        layer([whiteout(f"{site}/requests-2.31.0.dist-info")]),
    )
    assert read_files(blobs, everything) == {f"{site}/requests-2.31.0.dist-info-sibling": b"stays"}


def test_whiteouts_do_not_touch_their_own_layer_whatever_the_order() -> None:
    blobs = openers(
        layer([file("d/old", "lower"), file("f", "lower")]),
        layer([file("d/new", "upper"), file("f", "upper"), opaque("d"), whiteout("f")]),
    )
    assert read_files(blobs, everything) == {"d/new": b"upper", "f": b"upper"}


def test_opaque_directory_hides_lower_content_only_of_that_directory() -> None:
    site = "usr/local/lib/python3.11/site-packages"
    blobs = openers(
        layer(
            [
                file(f"{site}/a-1.dist-info/METADATA", "a"),
                file(f"{site}/b-1.dist-info/METADATA", "b"),
                file("usr/local/lib/python3.11/other", "o"),
                file(f"{site}-x/c", "prefix but not below"),
            ]
        ),
        layer([directory(site), opaque(site), file(f"{site}/c-1.dist-info/METADATA", "c")]),
    )
    assert read_files(blobs, everything) == {
        f"{site}/c-1.dist-info/METADATA": b"c",
        "usr/local/lib/python3.11/other": b"o",
        f"{site}-x/c": b"prefix but not below",
    }


def test_opaque_root_hides_every_lower_layer() -> None:
    blobs = openers(layer([file("a", "1"), file("b/c", "2")]), layer([opaque(""), file("d", "3")]))
    assert read_files(blobs, everything) == {"d": b"3"}


def test_a_whiteout_for_something_never_there_is_harmless() -> None:
    blobs = openers(layer([file("a", "1")]), layer([whiteout("nope/x"), opaque("nothing")]))
    assert read_files(blobs, everything) == {"a": b"1"}


def test_file_replacing_a_directory_hides_its_lower_content() -> None:
    blobs = openers(
        layer([file("opt/app/lib/x.jar", "jar"), file("opt/app/keep", "k")]),
        layer([symlink("opt/app/lib", "/usr/share/java")]),
    )
    assert read_files(blobs, lambda p: p.endswith(".jar")) == {}
    assert read_files(blobs, everything) == {"opt/app/keep": b"k"}


def test_directory_replacing_a_file_hides_it() -> None:
    blobs = openers(layer([file("etc/thing", "file")]), layer([directory("etc/thing")]))
    assert read_files(blobs, everything) == {}


def test_symlinks_to_wanted_files_are_resolved_relative_and_absolute() -> None:
    blobs = openers(
        layer([file("usr/lib/os-release", "ID=debian\n")]),
        layer(
            [
                symlink("etc/os-release", "../usr/lib/os-release"),
                symlink("etc/absolute", "/usr/lib/os-release"),
                symlink("etc/chain", "os-release"),
            ]
        ),
    )
    files = read_files(blobs, everything)
    assert files == dict.fromkeys(
        ["usr/lib/os-release", "etc/os-release", "etc/absolute", "etc/chain"], b"ID=debian\n"
    )
    # One object for a file and its links, so consumers can tell they are the same file.
    assert files["etc/chain"] is files["usr/lib/os-release"]


def test_symlinks_follow_the_final_filesystem() -> None:
    blobs = openers(
        layer(
            [symlink("etc/os-release", "../usr/lib/os-release"), file("usr/lib/os-release", "1")]
        ),
        layer([file("usr/lib/os-release", "2")]),
    )
    assert read_files(blobs, everything)["etc/os-release"] == b"2"


def test_unresolvable_symlinks_are_left_out() -> None:
    blobs = openers(
        layer(
            [
                file("hidden/target", "t"),
                symlink("etc/dangling", "/no/such/file"),
                symlink("etc/unwanted", "/hidden/target"),
                symlink("etc/loop-a", "loop-b"),
                symlink("etc/loop-b", "loop-a"),
                symlink("etc/escape", "../../../../hidden/target"),
            ]
        )
    )
    files = read_files(blobs, lambda p: p.startswith("etc/"))
    assert files == {}
    assert read_files(blobs, lambda p: p.startswith(("etc/", "hidden/")))["etc/escape"] == b"t"


def test_hard_link_to_a_wanted_file_reads_the_layer_once() -> None:
    blobs = Blobs([layer([file("usr/bin/a", "binary"), hardlink("usr/bin/b", "usr/bin/a")])])
    assert read_files(blobs.openers, everything) == {"usr/bin/a": b"binary", "usr/bin/b": b"binary"}
    assert blobs.opened == [0]


def test_hard_link_to_an_unwanted_file_rereads_only_its_layer() -> None:
    blobs = Blobs(
        [
            layer([file("other", "o")]),
            layer(
                [file("opt/real/app.jar", "jar bytes"), hardlink("app/app.jar", "opt/real/app.jar")]
            ),
            layer([file("opt/real/app.jar", "changed later")]),
        ]
    )
    files = read_files(blobs.openers, lambda p: p == "app/app.jar")
    # The link shares the inode archived in its own layer, not what later layers put there.
    assert files == {"app/app.jar": b"jar bytes"}
    assert blobs.opened == [0, 1, 2, 1]


def test_special_files_are_no_files() -> None:
    blobs = openers(layer([file("run/x", "1")]), layer([fifo("run/x")]))
    assert read_files(blobs, everything) == {}


def test_size_cap_skips_big_files_and_they_still_hide_lower_ones() -> None:
    blobs = openers(
        layer([file("usr/bin/tool", "small"), file("usr/bin/other", "small")]),
        layer([file("usr/bin/tool", b"x" * 2000)]),
    )
    assert read_files(blobs, everything, max_file_size=1000) == {"usr/bin/other": b"small"}
    assert list_files(blobs, everything) == ["usr/bin/other", "usr/bin/tool"]


def test_extract_hook_sees_each_wanted_file_and_decides_what_is_kept() -> None:
    seen: list[tuple[str, int]] = []

    def first_byte(path: str, stream: IO[bytes], size: int) -> bytes | None:
        seen.append((path, size))
        head = stream.read(1)
        return head if head == b"G" else None

    blobs = openers(
        layer([file("bin/go-tool", "Go!"), file("bin/script", "#!/bin/sh"), file("etc/x", "no")]),
        layer([file("bin/go-tool", "#!/bin/sh now")]),
        layer([file("bin/new", "Gopher")]),
    )
    files = read_files(blobs, lambda p: p.startswith("bin/"), extract=first_byte)
    assert files == {"bin/new": b"G"}
    assert seen == [("bin/go-tool", 3), ("bin/script", 9), ("bin/go-tool", 13), ("bin/new", 6)]


def test_list_files_reports_paths_without_content() -> None:
    wanted = path_matcher("**/node_modules/*/package.json", "*.jar")
    blobs = openers(
        layer(
            [
                file("app/node_modules/left-pad/package.json", "{}"),
                file("app/node_modules/left-pad/lib/package.json", "{}"),
                file("srv/lib/a.jar", "jar"),
                symlink("srv/lib/b.jar", "a.jar"),
                file("srv/readme", "x"),
            ]
        ),
        layer([whiteout("srv/lib/a.jar")]),
    )
    assert list_files(blobs, wanted) == ["app/node_modules/left-pad/package.json"]


def test_path_matcher_semantics() -> None:
    matches = path_matcher(
        "**/site-packages/*.dist-info/METADATA", "**/node_modules/**/package.json", "*.jar"
    )
    assert matches("usr/lib/python3.11/site-packages/pip-24.0.dist-info/METADATA")
    assert matches("site-packages/pip-24.0.dist-info/METADATA")
    assert not matches("usr/lib/site-packages/pip-24.0.dist-info/sub/METADATA")
    assert matches("node_modules/a/package.json")
    assert matches("srv/node_modules/@s/a/node_modules/b/package.json")
    assert not matches("srv/package.json")
    assert matches("app.jar") and matches("opt/x/app.jar")
    assert not matches("app.jar.sha1")
    assert not path_matcher()("anything")


def test_streaming_keeps_only_wanted_content_in_memory() -> None:
    big = bytes(48 << 20)
    for compression in COMPRESSIONS:
        blob = layer([file("big/unwanted", big), file("etc/x", "1")], compression)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            files = read_files(openers(blob), lambda p: p == "etc/x")
            peak = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            tracemalloc.stop()
        assert files == {"etc/x": b"1"}
        # The blob itself is not traced again; decompressing 48 MiB must not hold 48 MiB.
        assert peak < 4 << 20, (compression, peak)


# --- corrupt layers ------------------------------------------------------------------------------


def good_layer(compression: Compression) -> bytes:
    return layer([file("a", "x" * 100_000), file("b", "y" * 10)], compression)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_compressed_layer_is_a_layer_error(compression: Compression, keep: float) -> None:
    blob = good_layer(compression)
    truncated = blob[: int(len(blob) * keep)]
    with pytest.raises(LayerError, match=r"layer 1 is corrupt: truncated"):
        read_files(openers(layer([file("z", "1")]), truncated), everything)


def test_gzip_missing_only_its_trailer_is_caught() -> None:
    blob = good_layer("gzip")
    with pytest.raises(LayerError, match="truncated"):
        read_files(openers(blob[:-4]), lambda p: False)


def test_gzip_with_wrong_checksum_is_a_layer_error() -> None:
    blob = bytearray(good_layer("gzip"))
    blob[-8] ^= 0xFF  # CRC32 of the trailer
    with pytest.raises(LayerError, match="BadGzipFile"):
        read_files(openers(bytes(blob)), everything)


def test_truncated_plain_tar_inside_a_member_is_a_layer_error() -> None:
    blob = good_layer("none")
    with pytest.raises(LayerError, match="layer 0 is corrupt"):
        read_files(openers(blob[:2000]), everything)


@pytest.mark.parametrize(
    "blob",
    [
        b"this is not a tar archive at all" * 40,
        b"\x1f\x8b" + b"\x00" * 100,
        b"\x28\xb5\x2f\xfd" + b"garbage bytes that are no zstd frame" * 10,
        gzip.compress(b"gzip of garbage, not a tar" * 40),
        b"",
    ],
    ids=["garbage", "gzip-magic-garbage", "zstd-magic-garbage", "gzip-of-garbage", "empty"],
)
def test_garbage_is_a_layer_error_with_a_reason(blob: bytes) -> None:
    with pytest.raises(LayerError) as error:
        read_files(openers(blob), everything)
    assert error.value.message.startswith("layer 0")
    assert len(error.value.message) > len("layer 0 is corrupt: ")


def test_errors_of_the_opener_itself_pass_through() -> None:
    def broken() -> io.BytesIO:
        raise OSError("storage unavailable")

    with pytest.raises(OSError, match="storage unavailable"):
        read_files([broken], everything)


# --- layers made by real tools ------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar not installed")
@pytest.mark.parametrize("flag", ["--gzip", "--zstd", None])
def test_layers_written_by_gnu_tar(tmp_path: Path, flag: str | None) -> None:
    if flag == "--zstd" and shutil.which("zstd") is None:
        pytest.skip("zstd not installed")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/os-release").write_text("ID=debian\n")
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    deep = root / ("d" * 120) / ("e" * 120)  # past ustar's name field: a GNU long name
    deep.mkdir(parents=True)
    (deep / "package.json").write_text("{}")
    (root / "etc/.wh.removed").write_text("")
    blob_path = tmp_path / "layer.tar"
    command = ["tar", "--create", "--file", str(blob_path), "--directory", str(root), "."]
    if flag:
        command.insert(1, flag)
    subprocess.run(command, check=True)
    files = read_files(openers(blob_path.read_bytes()), everything)
    assert files["etc/os-release"] == b"ID=debian\n"
    assert files[f"{'d' * 120}/{'e' * 120}/package.json"] == b"{}"
    assert "etc/.wh.removed" not in files
    assert set(files) == {
        "usr/lib/os-release",
        "etc/os-release",
        f"{'d' * 120}/{'e' * 120}/package.json",
    }


def test_hard_link_to_a_wanted_file_of_a_lower_layer() -> None:
    blobs = Blobs([layer([file("bin/a", "v1")]), layer([hardlink("bin/b", "bin/a")])])
    assert read_files(blobs.openers, everything) == {"bin/a": b"v1", "bin/b": b"v1"}
    assert blobs.opened == [0, 1]


def test_dangling_hard_link_is_left_out() -> None:
    blobs = openers(layer([hardlink("bin/b", "nowhere/a")]))
    assert read_files(blobs, everything) == {}
