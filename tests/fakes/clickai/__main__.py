"""``python -m tests.fakes.clickai``: serve the fake ClickAI until Ctrl-C."""

from tests.fakes.clickai.server import main

main()
