"""Builds the configured backends: ``[clickai]`` as ``clickai`` plus every ``[backends.NAME]``."""

from __future__ import annotations

import httpx

from bridge.backends.base import Backend
from bridge.config import BackendConfig, ClickAIConfig, Settings


def build_backend(
    name: str,
    config: BackendConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    suggestions: bool = True,
) -> Backend:
    """One backend of any kind (platform packages are imported only when used)."""
    if config.kind == "chatbase":
        from bridge.backends.chatbase import ChatbaseBackend

        return ChatbaseBackend.from_config(name, config, transport=transport)
    if config.kind == "maiagent":
        from bridge.backends.maiagent import MaiAgentBackend

        return MaiAgentBackend.from_config(name, config, transport=transport)
    if config.kind == "agentok":
        from bridge.backends.agentok import AgentokBackend

        return AgentokBackend.from_config(name, config, transport=transport)
    return clickai_backend(
        name, clickai_config(config), transport=transport, suggestions=suggestions
    )


def clickai_backend(
    name: str,
    config: ClickAIConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    suggestions: bool = True,
) -> Backend:
    from bridge.backends.clickai import ClickAIBackend, ClickAIOptions
    from bridge.clickai import ClickAIClient

    client = ClickAIClient.from_config(config, transport=transport)
    options = ClickAIOptions.from_config(config, suggestions=suggestions)
    return ClickAIBackend(client, options, name=name)


def clickai_config(config: BackendConfig) -> ClickAIConfig:
    """A ``[backends.NAME]`` of kind ``clickai`` as the ``[clickai]`` section it stands for."""
    return ClickAIConfig(
        base_url=config.root,
        api_key=config.api_key,
        response_mode=config.response_mode,
        app_mode=config.app_mode,
        connect_timeout_s=config.connect_timeout_s,
        read_timeout_s=config.read_timeout_s,
        idle_timeout_s=config.idle_timeout_s,
        requests_per_minute=config.requests_per_minute,
        max_retries=config.max_retries,
        inputs=config.inputs,
        query_variable=config.query_variable,
        workflow_output=config.workflow_output,
        auto_generate_name=config.auto_generate_name,
    )


def backend_configs(settings: Settings) -> dict[str, BackendConfig | ClickAIConfig]:
    """Every configured backend by name (``clickai`` = the ``[clickai]`` section)."""
    configs: dict[str, BackendConfig | ClickAIConfig] = {}
    if settings.clickai is not None:
        configs["clickai"] = settings.clickai
    configs.update(settings.backends)
    return configs


def build_backends(settings: Settings, names: set[str] | None = None) -> dict[str, Backend]:
    """The backends named in ``names`` (all when None)."""
    built: dict[str, Backend] = {}
    suggestions = settings.bridge.suggested_questions
    for name, config in backend_configs(settings).items():
        if names is not None and name not in names:
            continue
        if isinstance(config, ClickAIConfig):
            built[name] = clickai_backend(name, config, suggestions=suggestions)
        else:
            built[name] = build_backend(name, config, suggestions=suggestions)
    return built
