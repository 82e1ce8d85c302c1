"""Request errors of a real Dify server are bad requests: never retried, told as what was wrong.

Workflow-based apps validate a streaming request after answering 200: the stream is a ping and
one ``error`` frame with ``status`` 500 and no ``code``. Blocking mode (and basic chat apps)
answer 400 ``invalid_param`` with the same message. Every case is a capture of a real server.
"""

from __future__ import annotations

import pytest

from bridge.clickai import ClickAIClient, TurnRequest
from bridge.clickai.errors import RequestProblem, request_problem
from bridge.errors import ClickAIError
from bridge.i18n import t
from bridge.notices import clickai_notice
from tests.fakes import captures
from tests.fakes.clickai import FakeClickAI
from tests.test_clickai_client import Sleeper

CASES = [
    ("121-audio-disallowed-streaming", RequestProblem("file_not_accepted", "voice.oga")),
    ("122-audio-disallowed-blocking", RequestProblem("file_not_accepted", "voice.oga")),
    ("128-basic-audio-streaming", RequestProblem("file_not_accepted", "voice.oga")),
    ("111-exe-as-custom", RequestProblem("file_not_accepted", "x.exe")),
    ("127-chatflow-badfile-streaming", RequestProblem("file_not_accepted", "")),
    ("114-file-to-workflow-app-no-upload", RequestProblem("file_not_accepted", "")),
    ("37-chat-file-otheruser", RequestProblem("file_not_accepted", "")),
    ("126-chatflow-4files-streaming", RequestProblem("too_many_files", "3")),
    ("115-4files-limit3", RequestProblem("too_many_files", "3")),
    ("125-wf-missing-input-streaming", RequestProblem("missing_input", "query")),
    ("42-wf-missing-input", RequestProblem("missing_input", "query")),
    ("153-chatflow-empty-query-streaming", RequestProblem("missing_input", "query")),
    ("48-chat-empty-query", RequestProblem("missing_input", "query")),
]


@pytest.mark.parametrize(("name", "problem"), CASES, ids=[c[0] for c in CASES])
async def test_a_refused_request_is_sent_once_and_says_what_was_wrong(
    name: str, problem: RequestProblem
) -> None:
    capture = captures.load(name)
    async with FakeClickAI(mode="advanced-chat") as fake:
        fake.script(*[captures.replay(capture)] * 4)
        sleeper = Sleeper()
        async with ClickAIClient(
            base_url=fake.base_url, api_key=fake.key, max_retries=3, sleep=sleeper
        ) as client:
            turn = TurnRequest(mode="chat", streaming=True, query="x", user="telegram:5")
            with pytest.raises(ClickAIError) as info:
                async for _ in client.run(turn):
                    pass
        assert len(fake.calls("/v1/chat-messages")) == 1
        assert sleeper.delays == []
    assert info.value.kind == "bad_request"
    assert request_problem(info.value) == problem


def test_the_notice_names_the_problem_in_both_languages() -> None:
    file = ClickAIError("bad_request", "File validation failed for file: voice.oga")
    assert clickai_notice("en", file) == t("en", "err_file_not_accepted_named", name="voice.oga")
    assert "voice.oga" in clickai_notice("vi", file)
    many = ClickAIError("bad_request", "Number of files exceeds the maximum limit 3")
    assert clickai_notice("vi", many) == t("vi", "err_too_many_files", limit="3")
    unknown = ClickAIError("bad_request", "Invalid upload file")
    assert clickai_notice("en", unknown) == t("en", "err_file_not_accepted")
    other = ClickAIError("bad_request", "something else")
    assert clickai_notice("en", other) == t("en", "err_bad_request")


def test_an_error_frame_after_the_run_started_is_still_a_server_fault() -> None:
    from bridge.clickai import StreamInterpreter

    interpreter = StreamInterpreter()
    interpreter.feed_frame({"event": "message", "task_id": "t", "answer": "Hel"})
    with pytest.raises(ClickAIError) as info:
        interpreter.feed_frame({"event": "error", "message": "boom", "status": 500})
    assert info.value.kind == "upstream"
