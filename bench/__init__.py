"""End-to-end benchmark: fake ClickAI, flood-limited fake Telegram, the real bridge, a floor."""
