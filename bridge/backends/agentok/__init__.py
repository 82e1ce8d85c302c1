"""Agentok Studio behind the Backend port, as an agent job: run a flow, poll, relay human input."""

from bridge.backends.agentok.backend import AgentokBackend

__all__ = ["AgentokBackend"]
