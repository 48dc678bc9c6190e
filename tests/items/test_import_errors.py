"""Bad input: every case fails with a message naming the line, member or
file, and leaves nothing behind (no item, no file, no taxonomy, no event)."""

from __future__ import annotations

import struct
import zipfile
import zlib

import pytest

from labelops.audit.models import AuditEvent
from labelops.items.importing.errors import ImportFailed
from labelops.items.models import Item
from labelops.projects import services as project_services
from labelops.projects.models import TaxonomyVersion
from tests.items.import_helpers import (
    csv_bytes,
    import_data,
    png,
    stored_files,
    zip_of,
)


def fails(project, user, data, fmt, pattern, **options) -> ImportFailed:
    """Import, expect ImportFailed matching `pattern`, and check nothing was kept."""
    events_before = AuditEvent.objects.count()
    with pytest.raises(ImportFailed, match=pattern) as failure:
        import_data(project, user, data, fmt, **options)
    assert not Item.objects.filter(project=project).exists()
    assert AuditEvent.objects.count() == events_before
    return failure.value


# --- CSV ----------------------------------------------------------------------------


def test_wrong_column_count_names_the_line(project, lead, artifact_root):
    data = csv_bytes("text,label", "fine,billing", "one,two,three")
    error = fails(project, lead, data, "csv", r"^line 3 has 3 field\(s\) but the header has 2$")
    assert error.where == "line 3"


def test_unterminated_quote_names_the_line_it_opened_on(project, lead, artifact_root):
    data = csv_bytes("text,label", "fine,billing", '"never closed,billing', "more,bug")
    fails(project, lead, data, "csv", r"^line 3 has a quoted field that is never closed \(the quote opened at line 3\)")


def test_missing_text_column(project, lead, artifact_root):
    fails(project, lead, csv_bytes("body,label", "x,bug"), "csv",
          r"^line 1 \(the header\) has no 'text' column \(columns: body, label\)")


def test_unknown_label_names_the_line_and_the_taxonomy(project, lead, artifact_root):
    data = csv_bytes("text,label", "a,billing", "b,refund")
    fails(project, lead, data, "csv",
          r"^line 3: label 'refund' is not in taxonomy v1 of this project \(its labels: billing, bug, other\)$")


def test_bad_label_key_for_a_new_taxonomy_names_the_line(lead, artifact_root):
    project = project_services.create_project(actor=lead, name="Fresh")
    too_long = "k" * 101
    fails(project, lead, csv_bytes("text,label", "a,ok", f"b,{too_long}"), "csv",
          rf"^line 3: '{too_long}' cannot be a label key")
    assert not TaxonomyVersion.objects.filter(project=project).exists()


def test_latin1_bytes_are_not_utf8_and_the_line_is_named(project, lead, artifact_root):
    data = "text\nplain\ncafé crème\n".encode("latin-1")
    fails(project, lead, data, "csv", r"^line 3 is not valid UTF-8 \(byte 0xe9 at byte 4 of the line\): save the file")


def test_utf16_file_is_recognised(project, lead, artifact_root):
    fails(project, lead, "text\nhello\n".encode("utf-16"), "csv",
          r"^line 1 is not valid UTF-8 .*UTF-16 byte-order mark: save it as UTF-8")
    fails(project, lead, "text\nhello\n".encode("utf-16-le"), "csv",
          r"^line 1 contains NUL characters \(is the file UTF-16\?\)")


def test_zero_byte_file(project, lead, artifact_root):
    fails(project, lead, b"", "csv", r"^the file is empty \(0 bytes\)$")


def test_oversized_file(project, lead, artifact_root, settings):
    settings.IMPORT_MAX_BYTES = 20
    fails(project, lead, csv_bytes("text", "x" * 30), "csv",
          r"^the file is 36 bytes, more than IMPORT_MAX_BYTES \(20\)$")


def test_text_longer_than_the_limit_names_the_line(project, lead, artifact_root, settings):
    settings.TEXT_MAX_CHARS = 10
    fails(project, lead, csv_bytes("text", "short", "x" * 11), "csv",
          r"^line 3: the text has 11 characters, more than TEXT_MAX_CHARS \(10\)$")


def test_a_line_longer_than_any_row_may_be(project, lead, artifact_root, settings):
    settings.TEXT_MAX_CHARS = 1
    settings.IMPORT_MAX_BYTES = 10 * 1024**2
    fails(project, lead, b"text\n" + b"x" * (2 * 1024**2) + b"\n", "csv", r"^line 2 is longer than \d+ bytes$")


def test_failure_on_the_last_line_rolls_back_earlier_batches(project, lead, artifact_root, monkeypatch):
    from labelops.items.importing import pipeline

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 2)
    rows = [f"row {i},bug" for i in range(7)] + ["bad,nope"]
    fails(project, lead, csv_bytes("text,label", *rows), "csv", r"^line 9: label 'nope'")


def test_text_formats_are_refused_for_image_projects_and_vice_versa(project, image_project, lead, artifact_root):
    fails(image_project, lead, csv_bytes("text", "x"), "csv",
          r"csv files hold text, but project \d+ is an image project")
    fails(project, lead, zip_of({"a.png": png()}), "images_zip", r"images_zip holds images, but project \d+ is a text")


# --- Images ---------------------------------------------------------------------------


def test_a_non_image_member_is_named_and_earlier_files_are_removed(image_project, lead, artifact_root):
    data = zip_of({"cat/a.png": png((1, 2, 3)), "cat/b.png": png((4, 5, 6)), "dog/notes.png": b"just text"})
    fails(image_project, lead, data, "images_zip", r"^member 'dog/notes.png' is not an image \(accepted: PNG, JPEG")
    assert stored_files(artifact_root) == []
    assert not list((artifact_root / "items").rglob("*.journal"))


def test_a_damaged_image_is_named(image_project, lead, artifact_root):
    broken = png()[:-20]
    fails(image_project, lead, zip_of({"a.png": broken}), "images_zip", r"^member 'a.png' is a damaged image")


@pytest.mark.parametrize("name", ["../../x.png", "/etc/x.png", "ok/../../x.png", "C:\\x.png", "..\\x.png"])
def test_traversal_names_refuse_the_whole_archive(image_project, lead, artifact_root, tmp_path, name):
    data = zip_of({"cat/fine.png": png(), name: png((9, 9, 9))})
    error = fails(image_project, lead, data, "images_zip", r"has an unsafe path \(absolute, or with a '\.\.' part\)")
    assert error.where == f"member {name!r}"
    assert stored_files(artifact_root) == []
    assert not list(tmp_path.rglob("x.png"))


def test_image_over_the_byte_cap_is_refused_by_its_declared_size(image_project, lead, artifact_root, settings):
    settings.IMAGE_MAX_BYTES = 100
    fails(image_project, lead, zip_of({"big.png": png(size=(64, 64))}), "images_zip",
          r"^member 'big.png' declares \d+ bytes, more than IMAGE_MAX_BYTES \(100\)$")


def test_member_that_expands_past_its_declared_size_is_refused(image_project, lead, artifact_root):
    # A zip bomb lies in its headers: claim 10 bytes for 100,000 of zeros.
    data = bytearray(zip_of({"bomb.png": b"\x00" * 100_000}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + offset
        data[at:at + 4] = struct.pack("<I", 10)
    fails(image_project, lead, bytes(data), "images_zip", r"^member 'bomb.png' cannot be read from the archive")


def test_archive_that_expands_past_the_import_cap_is_refused(image_project, lead, artifact_root, settings):
    settings.IMPORT_MAX_BYTES = 50_000
    settings.IMAGE_MAX_BYTES = 40_000
    data = zip_of({f"{i}.png": b"\x00" * 30_000 for i in range(3)})
    assert len(data) < 50_000
    fails(image_project, lead, data, "images_zip", r"^the archive declares 90000 bytes of files, more than the 50000")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def test_pillow_decompression_bomb_is_refused(image_project, lead, artifact_root, settings):
    settings.IMAGE_MAX_PIXELS = 10**12  # let Pillow's own guard be the one that fires
    fails(image_project, lead, zip_of({"bomb.png": _png_header_only(30_000, 30_000)}), "images_zip",
          r"^member 'bomb.png' is refused as a decompression bomb")


def test_images_over_the_pixel_cap_are_refused_from_the_header(image_project, lead, artifact_root, settings):
    settings.IMAGE_MAX_PIXELS = 20
    fails(image_project, lead, zip_of({"a.png": png(size=(5, 7))}), "images_zip",
          r"^member 'a.png' is 5x7 = 35 pixels, more than IMAGE_MAX_PIXELS \(20\)$")


def test_a_file_that_is_not_a_zip(image_project, lead, artifact_root):
    fails(image_project, lead, b"not a zip at all", "images_zip", r"^the file is not a readable ZIP archive")


def test_encrypted_members_are_named(image_project, lead, artifact_root):
    data = bytearray(zip_of({"a.png": png()}, compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set the "encrypted" flag bit
        at = data.index(signature) + offset
        data[at] |= 0x01
    fails(image_project, lead, bytes(data), "images_zip", r"^member 'a.png' cannot be extracted")
