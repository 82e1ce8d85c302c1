"""What the user is told when ClickAI refuses or fails a turn, in their language."""

from __future__ import annotations

from bridge.clickai.errors import request_problem
from bridge.errors import AttachmentError, ClickAIError
from bridge.i18n import t


def clickai_notice(lang: str, exc: ClickAIError) -> str:
    """The translated notice for a failed turn; a request's own fault says what was wrong."""
    problem = request_problem(exc)
    if problem is not None:
        if problem.kind == "too_many_files":
            return t(lang, "err_too_many_files", limit=problem.detail)
        if problem.kind == "missing_input":
            return t(lang, "err_missing_input", name=problem.detail)
        if problem.detail:
            return t(lang, "err_file_not_accepted_named", name=problem.detail)
        return t(lang, "err_file_not_accepted")
    if exc.code == "stream_dropped":
        return t(lang, "err_stream_dropped")
    kind = "upstream" if exc.kind == "conversation_gone" else exc.kind
    return t(lang, f"err_{kind}")


def file_rules_notice(lang: str, exc: AttachmentError) -> str:
    """The app's file settings refused a file (``not_accepted``) or the count
    (``too_many_files``): say what it takes."""
    if exc.reason == "too_many_files":
        return t(lang, "err_too_many_files", limit=str(exc))
    if not exc.accepted:
        return t(lang, "files_not_taken")
    accepted = ", ".join(a if a.startswith(".") else t(lang, f"ftype_{a}") for a in exc.accepted)
    return t(lang, "file_not_taken", name=str(exc), accepted=accepted)
