"""ClickAI (Dify Service API) client: streaming turns as typed events, files, feedback, Studio.

Used on its own as an async library::

    import asyncio

    from bridge.clickai import ClickAIClient, Finished, Started, TextDelta, TextReplace
    from bridge.clickai import TurnRequest
    from bridge.errors import ClickAIError


    async def main() -> None:
        async with ClickAIClient(base_url="https://api.clickai.io/v1", api_key="app-...") as ai:
            turn = TurnRequest(mode="chat", streaming=True, query="Hello!", user="demo:1")
            text = ""
            try:
                async for event in ai.run(turn):
                    if isinstance(event, Started):
                        print("conversation", event.conversation_id)
                    elif isinstance(event, TextDelta):
                        text += event.text
                    elif isinstance(event, TextReplace):
                        text = event.text
                    elif isinstance(event, Finished):
                        text = event.answer if event.answer is not None else text
                        print(text)
                        await ai.feedback(event.message_id, rating="like", user="demo:1")
            except ClickAIError as exc:
                print("failed:", exc.kind, exc)


    asyncio.run(main())

Pass ``conversation_id=`` on later turns to continue the conversation; when it raises
``ClickAIError`` with ``kind == "conversation_gone"``, drop the id and send the turn again.
"""

from bridge.clickai.client import ClickAIClient, Rating
from bridge.clickai.errors import error_from_frame, error_from_response, error_from_transport
from bridge.clickai.events import (
    FileProduced,
    FileRef,
    FileType,
    Finished,
    InputValue,
    RunMode,
    Started,
    StreamEvent,
    TextDelta,
    TextReplace,
    ThoughtUpdate,
    TurnRequest,
    UploadedFile,
)
from bridge.clickai.sse import StreamInterpreter, blocking_events, render_outputs
from bridge.clickai.studio import StudioClient

__all__ = [
    "ClickAIClient",
    "FileProduced",
    "FileRef",
    "FileType",
    "Finished",
    "InputValue",
    "Rating",
    "RunMode",
    "Started",
    "StreamEvent",
    "StreamInterpreter",
    "StudioClient",
    "TextDelta",
    "TextReplace",
    "ThoughtUpdate",
    "TurnRequest",
    "UploadedFile",
    "blocking_events",
    "error_from_frame",
    "error_from_response",
    "error_from_transport",
    "render_outputs",
]
