"""Assistant files keep the name and type their file object gives (not the URL's last segment)."""

from __future__ import annotations

import pytest

from bridge.clickai import FileProduced
from bridge.turn import file_name_and_type

PREVIEW = "http://h/files/62601442/file-preview?timestamp=1&nonce=n&sign=s"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            FileProduced(
                "r1", "document", PREVIEW, filename="report.pdf", mime_type="application/pdf"
            ),
            ("report.pdf", "application/pdf"),
        ),
        (
            FileProduced("r2", "document", PREVIEW, filename="notes", extension=".csv"),
            ("notes.csv", "text/csv"),
        ),
        (FileProduced("r3", "image", PREVIEW, extension="png"), ("r3.png", "image/png")),
        (FileProduced("r4", "custom", PREVIEW), ("r4.bin", "application/octet-stream")),
        (FileProduced("r5", "image", "/files/tools/abc.png?x=1"), ("abc.png", "image/png")),
        (
            FileProduced("r6", "document", PREVIEW, filename="../../etc/passwd", mime_type="t/p"),
            ("passwd", "t/p"),
        ),
    ],
)
def test_name_and_type(item: FileProduced, expected: tuple[str, str]) -> None:
    assert file_name_and_type(item) == expected
