"""The fake Slack's AI surfaces: agent sessions, assistant-thread titles and suggested prompts."""

from __future__ import annotations

from typing import Any

from tests.fakes.slack.base import _Base

STOP_WARNING = "missing_agent_session_stopped_event_subscription"


class _Agents(_Base):
    """``agents.sessions.*`` and ``assistant.threads.setTitle/setSuggestedPrompts``.

    ``agent_refusal`` (e.g. ``"not_allowed"``) models an app that is not declared an agent;
    ``stop_subscribed=False`` makes ``setStatus`` warn like Slack does without the
    ``agent_session_stopped`` subscription. :meth:`press_stop` is the user's click.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.agent_refusal: str | None = None
        self.stop_subscribed = True
        self.sessions: dict[tuple[str, str], str] = {}
        """(channel, thread ts) → the session's current status."""
        self.session_log: list[tuple[str, str, str]] = []
        self.titles: dict[tuple[str, str], str] = {}
        self.prompts: dict[tuple[str, str], dict[str, Any]] = {}

    def _m_agents_sessions_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.agent_refusal:
            return {"error": self.agent_refusal}
        status = str(args.get("status") or "")
        if status not in ("processing", "active", "suspended", "closed"):
            return {"error": "invalid_arguments"}
        where = (str(args.get("channel_id") or ""), str(args.get("thread_ts") or ""))
        self.sessions[where] = status
        self.session_log.append((*where, status))
        if args.get("title"):
            self.titles[where] = str(args["title"])
        return {} if self.stop_subscribed else {"warning": STOP_WARNING}

    def _m_agents_sessions_rename(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.agent_refusal:
            return {"error": self.agent_refusal}
        where = (str(args.get("channel_id") or ""), str(args.get("thread_ts") or ""))
        if where not in self.sessions:
            return {"error": "session_not_found"}
        self.titles[where] = str(args.get("title") or "")
        return {}

    def _m_assistant_threads_setTitle(self, args: dict[str, Any]) -> dict[str, Any]:
        where = (str(args.get("channel_id") or ""), str(args.get("thread_ts") or ""))
        self.titles[where] = str(args.get("title") or "")
        return {}

    def _m_assistant_threads_setSuggestedPrompts(self, args: dict[str, Any]) -> dict[str, Any]:
        prompts = args.get("prompts")
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
            return {"error": "invalid_arguments"}
        where = (str(args.get("channel_id") or ""), str(args.get("thread_ts") or ""))
        self.prompts[where] = {"title": args.get("title"), "prompts": prompts}
        return {}

    def press_stop(self, channel: str, thread_ts: str, *, user: str = "U1") -> dict[str, Any]:
        """The user clicks the stop button of a ``processing`` session: Slack stops the
        thread's streams itself (the session stays ``processing`` until the app moves it)."""
        assert self.sessions.get((channel, thread_ts)) == "processing", "no stop button shown"
        stopped = []
        for msg in self.messages:
            if msg.channel == channel and msg.thread_ts == thread_ts and msg.streaming:
                msg.streaming = False
                stopped.append(msg.ts)
        return {
            "type": "agent_session_stopped",
            "channel": channel,
            "thread_ts": thread_ts,
            "user": user,
            "streaming_message_ts": stopped,
            "event_ts": self._new_ts(),
        }
