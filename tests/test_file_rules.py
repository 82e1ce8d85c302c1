"""FileRules read from a real server's ``/parameters`` and older shapes of ``file_upload``."""

from __future__ import annotations

import pytest

from bridge.errors import AttachmentError
from bridge.file_rules import FileRules
from bridge.model import Attachment
from tests.fakes import captures


def att(name: str, kind: str = "document") -> Attachment:
    return Attachment(ref="r", name=name, mime_type="x/y", kind=kind)  # type: ignore[arg-type]


def test_the_echo_chatflow_takes_everything_three_at_a_time() -> None:
    params = captures.load("20-parameters").json()
    assert isinstance(params, dict)
    rules = FileRules.from_parameters(params)
    assert rules is not None
    assert rules.check([att("a.txt"), att("v.ogg", "audio")]) == ["document", "audio"]
    with pytest.raises(AttachmentError) as info:
        rules.check([att(f"{i}.txt") for i in range(4)])
    assert (info.value.reason, str(info.value)) == ("too_many_files", "3")


def test_custom_needs_a_listed_extension_and_remote_only_apps_take_nothing() -> None:
    rules = FileRules.from_parameters(
        {
            "file_upload": {
                "enabled": True,
                "allowed_file_types": ["custom"],
                "allowed_file_extensions": ["csv"],
            }
        }
    )
    assert rules is not None
    assert rules.check([att("t.CSV")]) == ["custom"]
    with pytest.raises(AttachmentError) as info:
        rules.check([att("x.exe")])
    assert info.value.accepted == (".csv",)
    remote = FileRules.from_parameters(
        {
            "file_upload": {
                "enabled": True,
                "allowed_file_types": ["image"],
                "allowed_file_upload_methods": ["remote_url"],
            }
        }
    )
    assert remote is not None and remote.file_type(att("p.png", "image")) is None


def test_the_pre_0_10_image_only_shape() -> None:
    rules = FileRules.from_parameters(
        {
            "file_upload": {
                "image": {"enabled": True, "number_limits": 2, "transfer_methods": ["local_file"]}
            }
        }
    )
    assert rules is not None
    assert rules.accepted() == ("image",) and rules.limit == 2
    assert rules.file_type(att("d.pdf")) is None


def test_an_answer_without_file_upload_says_nothing() -> None:
    assert FileRules.from_parameters({"opening_statement": ""}) is None
