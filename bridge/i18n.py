"""User-facing strings in English and Vietnamese, and the rule for picking a language."""

from __future__ import annotations

SUPPORTED = ("en", "vi")

_EN: dict[str, str] = {
    # --- core / relay ---
    "err_auth": "⚠️ The assistant is not configured correctly. The operator has been notified.",
    "err_forbidden": "⚠️ The assistant is not available right now.",
    "err_bad_request": "⚠️ The assistant could not process this message.",
    "err_rate_limited": "⏳ The assistant is busy. Please try again in a moment.",
    "err_quota": "⚠️ The assistant's usage quota is exhausted. Please try again later.",
    "err_upstream": "⚠️ The assistant ran into a problem. Please try again.",
    "err_timeout": "⌛ The assistant took too long to answer. Please try again.",
    "err_internal": "⚠️ Something went wrong on our side. Please try again.",
    "err_stream_dropped": (
        "⚠️ The connection to the assistant broke, so the answer above may be incomplete."
    ),
    "file_not_taken": "📎 The assistant does not take “{name}”. It takes: {accepted}.",
    "files_not_taken": "📎 This assistant does not take files. Please send text.",
    "ftype_image": "images",
    "ftype_document": "documents",
    "ftype_audio": "audio",
    "ftype_video": "videos",
    "err_file_not_accepted": "📎 The assistant does not accept this kind of file.",
    "err_file_not_accepted_named": "📎 The assistant does not accept the file “{name}”.",
    "err_too_many_files": "📎 Too many files: the assistant takes at most {limit} per message.",
    "err_missing_input": (
        "⚠️ The assistant needs a value for “{name}” that this bridge does not send. "
        "Please tell the operator."
    ),
    "partial_note": "(the answer above is incomplete)",
    "conversation_reset": "ℹ️ The previous conversation had expired, so a new one was started.",
    "new_conversation": "🆕 Started a new conversation.",
    "new_single_turn": "ℹ️ This assistant answers each message on its own: nothing to reset.",
    "stopped": "⏹ Stopped.",
    "stopped_local": (
        "⏹ Stopped showing the answer (this assistant cannot be interrupted, "
        "so it may still finish on its side)."
    ),
    "awaiting_input": "✍️ The assistant is waiting for your answer. Reply to continue.",
    "files_unsupported": "📎 This assistant cannot read files. Please send your question as text.",
    "file_kind_unsupported": "📎 This assistant cannot read “{name}” (this kind of file is not "
    "supported).",
    "err_unsupported": "⚠️ This assistant cannot do that.",
    "nothing_to_stop": "Nothing is running right now.",
    "empty_answer": "(the assistant returned no text)",
    "too_long": "✂️ Your message is too long ({chars} characters). The limit is {limit}.",
    "empty_message": "Please send some text or a file.",
    "unsupported": "Sorry, I can only read text, photos, documents, audio and video.",
    "file_too_large": "📎 “{name}” is too large ({size_mb} MB). The limit is {limit_mb} MB.",
    "file_failed": "📎 I could not read “{name}”. Please try sending it again.",
    "default_file_query": "Please look at the attached file.",
    "user_rate_limited": "⏳ You are sending messages too fast. Please wait a minute.",
    "chat_rate_limited": "⏳ This chat is sending messages too fast. Please wait a minute.",
    "access_denied": "🔒 Sorry, this assistant is private.",
    "restarting": "🔄 The assistant is restarting. Please send your message again.",
    "interrupted": "⚠️ Your previous message was interrupted by a restart. Please send it again.",
    "interrupted_mark": "⚠️ Interrupted: this answer is incomplete",
    "feedback_not_yours": "Only the person who asked can rate this answer.",
    "stop_not_yours": "Only the person who asked (or a chat admin) can stop this answer.",
    "scope_busy": (
        "⏳ I am still answering your previous message in this conversation. "
        "Please send this one again in a moment."
    ),
    "feedback_like": "👍 Thanks for your feedback!",
    "feedback_dislike": "👎 Thanks, we will try to do better.",
    "feedback_cleared": "Feedback removed.",
    "feedback_unknown": "This answer can no longer be rated.",
    "feedback_failed": "Could not save your feedback. Please try again.",
    "thinking": "…",
    "suggestion_asked": "This question was already asked.",
    "suggestion_gone": "This suggestion is no longer available.",
    "suggestions_title": "Try asking",
    # --- telegram ---
    "tg_help": (
        "Send me a message and I will answer.\n"
        "/new: start a new conversation\n/stop: stop the current answer\n/help: this help"
    ),
    "tg_help_group": (
        "In this group I answer when you mention me (@{bot} your question), reply to one of my "
        "messages, or write /ask followed by your question.\n"
        "/new: start a new conversation\n/stop: stop the current answer\n/help: this help"
    ),
    "tg_start": "👋 Hello! How can I help you?",
    "cmd_new": "Start a new conversation",
    "cmd_stop": "Stop the current answer",
    "cmd_help": "How to use this assistant",
    "cmd_start": "Start",
    "cmd_ask": "Ask the assistant (in groups)",
    "tg_ask_empty": "Write your question after /ask, for example: /ask What can you do?",
    # --- terminal chat ---
    "console_banner": (
        "Talking to “{app}” ({mode} app). Type a message and press Enter.\n"
        "/new starts a new conversation, /stop or Ctrl-C stops an answer, /like and /dislike "
        "rate the last answer, /help shows this, /quit or Ctrl-D exits."
    ),
    "console_help": (
        "/new: start a new conversation\n/stop (or Ctrl-C): stop the answer being written\n"
        "/like, /dislike: rate the last answer (again to undo)\n/help: this help\n"
        "/quit (or Ctrl-D, or Ctrl-C when nothing is being written): exit"
    ),
    "console_unknown": "Unknown command {command}; /help lists the commands.",
    "console_stopping": "⏹ Stopping… (Ctrl-C again to quit)",
    # --- slack ---
    "slack_help": (
        "Mention me or send me a direct message. Send `new` to start a new conversation, "
        "`stop` to stop the answer being written, `help` for this help."
    ),
    "slack_status": "is thinking…",
    "slack_good_answer": "Good answer",
    "slack_bad_answer": "Bad answer",
}

_VI: dict[str, str] = {
    # --- core / relay ---
    "err_auth": "⚠️ Trợ lý chưa được cấu hình đúng. Quản trị viên đã được thông báo.",
    "err_forbidden": "⚠️ Trợ lý hiện không khả dụng.",
    "err_bad_request": "⚠️ Trợ lý không xử lý được tin nhắn này.",
    "err_rate_limited": "⏳ Trợ lý đang bận. Vui lòng thử lại sau giây lát.",
    "err_quota": "⚠️ Trợ lý đã hết hạn mức sử dụng. Vui lòng thử lại sau.",
    "err_upstream": "⚠️ Trợ lý gặp sự cố. Vui lòng thử lại.",
    "err_timeout": "⌛ Trợ lý phản hồi quá lâu. Vui lòng thử lại.",
    "err_internal": "⚠️ Đã có lỗi xảy ra phía chúng tôi. Vui lòng thử lại.",
    "err_stream_dropped": (
        "⚠️ Kết nối tới trợ lý bị gián đoạn nên câu trả lời ở trên có thể chưa đầy đủ."
    ),
    "file_not_taken": "📎 Trợ lý không nhận “{name}”. Trợ lý nhận: {accepted}.",
    "files_not_taken": "📎 Trợ lý này không nhận tệp. Vui lòng gửi văn bản.",
    "ftype_image": "ảnh",
    "ftype_document": "tài liệu",
    "ftype_audio": "âm thanh",
    "ftype_video": "video",
    "err_file_not_accepted": "📎 Trợ lý không nhận loại tệp này.",
    "err_file_not_accepted_named": "📎 Trợ lý không nhận tệp “{name}”.",
    "err_too_many_files": "📎 Quá nhiều tệp: trợ lý chỉ nhận tối đa {limit} tệp mỗi tin nhắn.",
    "err_missing_input": (
        "⚠️ Trợ lý cần giá trị cho “{name}” mà cầu nối này không gửi. "
        "Vui lòng báo cho quản trị viên."
    ),
    "partial_note": "(câu trả lời ở trên chưa đầy đủ)",
    "conversation_reset": (
        "ℹ️ Cuộc trò chuyện trước đã hết hạn nên một cuộc trò chuyện mới đã được bắt đầu."
    ),
    "new_conversation": "🆕 Đã bắt đầu cuộc trò chuyện mới.",
    "new_single_turn": "ℹ️ Trợ lý này trả lời từng tin nhắn riêng lẻ; không có gì để đặt lại.",
    "stopped": "⏹ Đã dừng.",
    "stopped_local": (
        "⏹ Đã ngừng hiển thị câu trả lời (trợ lý này không thể bị ngắt "
        "nên có thể vẫn hoàn tất ở phía nó)."
    ),
    "awaiting_input": "✍️ Trợ lý đang chờ câu trả lời của bạn. Hãy trả lời để tiếp tục.",
    "files_unsupported": (
        "📎 Trợ lý này không đọc được tệp. Vui lòng gửi câu hỏi dưới dạng văn bản."
    ),
    "file_kind_unsupported": "📎 Trợ lý này không đọc được “{name}” (loại tệp này không được hỗ "
    "trợ).",
    "err_unsupported": "⚠️ Trợ lý này không làm được việc đó.",
    "nothing_to_stop": "Hiện không có câu trả lời nào đang chạy.",
    "empty_answer": "(trợ lý không trả về nội dung)",
    "too_long": "✂️ Tin nhắn của bạn quá dài ({chars} ký tự). Giới hạn là {limit}.",
    "empty_message": "Vui lòng gửi nội dung hoặc một tệp.",
    "unsupported": "Xin lỗi, tôi chỉ đọc được văn bản, ảnh, tài liệu, âm thanh và video.",
    "file_too_large": "📎 “{name}” quá lớn ({size_mb} MB). Giới hạn là {limit_mb} MB.",
    "file_failed": "📎 Tôi không đọc được “{name}”. Vui lòng gửi lại.",
    "default_file_query": "Hãy xem tệp đính kèm.",
    "user_rate_limited": "⏳ Bạn gửi tin nhắn quá nhanh. Vui lòng đợi một phút.",
    "chat_rate_limited": "⏳ Cuộc trò chuyện này gửi tin nhắn quá nhanh. Vui lòng đợi một phút.",
    "access_denied": "🔒 Xin lỗi, trợ lý này là riêng tư.",
    "restarting": "🔄 Trợ lý đang khởi động lại. Vui lòng gửi lại tin nhắn của bạn.",
    "interrupted": "⚠️ Tin nhắn trước của bạn bị gián đoạn do khởi động lại. Vui lòng gửi lại.",
    "interrupted_mark": "⚠️ Bị gián đoạn: câu trả lời này chưa đầy đủ",
    "feedback_not_yours": "Chỉ người đã hỏi mới có thể đánh giá câu trả lời này.",
    "stop_not_yours": "Chỉ người đã hỏi (hoặc quản trị viên) mới có thể dừng câu trả lời này.",
    "scope_busy": (
        "⏳ Mình vẫn đang trả lời tin nhắn trước của bạn trong cuộc trò chuyện này. "
        "Vui lòng gửi lại tin này sau giây lát."
    ),
    "feedback_like": "👍 Cảm ơn bạn đã đánh giá!",
    "feedback_dislike": "👎 Cảm ơn, chúng tôi sẽ cố gắng tốt hơn.",
    "feedback_cleared": "Đã gỡ đánh giá.",
    "feedback_unknown": "Không thể đánh giá câu trả lời này nữa.",
    "feedback_failed": "Không lưu được đánh giá. Vui lòng thử lại.",
    "thinking": "…",
    "suggestion_asked": "Câu hỏi này đã được hỏi rồi.",
    "suggestion_gone": "Gợi ý này không còn dùng được nữa.",
    "suggestions_title": "Bạn có thể hỏi",
    # --- telegram ---
    "tg_help": (
        "Hãy gửi tin nhắn và tôi sẽ trả lời.\n"
        "/new: bắt đầu cuộc trò chuyện mới\n/stop: dừng câu trả lời hiện tại\n/help: trợ giúp"
    ),
    "tg_help_group": (
        "Trong nhóm này, tôi trả lời khi bạn nhắc đến tôi (@{bot} câu hỏi), trả lời một tin "
        "nhắn của tôi, hoặc viết /ask kèm câu hỏi.\n"
        "/new: bắt đầu cuộc trò chuyện mới\n/stop: dừng câu trả lời hiện tại\n/help: trợ giúp"
    ),
    "tg_start": "👋 Xin chào! Tôi có thể giúp gì cho bạn?",
    "cmd_new": "Bắt đầu cuộc trò chuyện mới",
    "cmd_stop": "Dừng câu trả lời hiện tại",
    "cmd_help": "Cách sử dụng trợ lý",
    "cmd_start": "Bắt đầu",
    "cmd_ask": "Hỏi trợ lý (trong nhóm)",
    "tg_ask_empty": "Hãy viết câu hỏi sau /ask, ví dụ: /ask Bạn làm được gì?",
    # --- terminal chat ---
    "console_banner": (
        "Đang trò chuyện với “{app}” (ứng dụng {mode}). Hãy nhập tin nhắn rồi nhấn Enter.\n"
        "/new bắt đầu cuộc trò chuyện mới, /stop hoặc Ctrl-C dừng câu trả lời, /like và "
        "/dislike đánh giá câu trả lời cuối, /help xem hướng dẫn, /quit hoặc Ctrl-D để thoát."
    ),
    "console_help": (
        "/new: bắt đầu cuộc trò chuyện mới\n/stop (hoặc Ctrl-C): dừng câu trả lời đang viết\n"
        "/like, /dislike: đánh giá câu trả lời cuối (gõ lại để bỏ)\n/help: trợ giúp\n"
        "/quit (hoặc Ctrl-D, hoặc Ctrl-C khi không có câu trả lời nào đang viết): thoát"
    ),
    "console_unknown": "Không có lệnh {command}; /help liệt kê các lệnh.",
    "console_stopping": "⏹ Đang dừng… (nhấn Ctrl-C lần nữa để thoát)",
    # --- slack ---
    "slack_help": (
        "Hãy nhắc đến tôi hoặc nhắn tin riêng cho tôi. Gõ `new` để bắt đầu cuộc trò chuyện mới, "
        "`stop` để dừng câu trả lời đang viết, `help` để xem hướng dẫn."
    ),
    "slack_status": "đang suy nghĩ…",
    "slack_good_answer": "Câu trả lời tốt",
    "slack_bad_answer": "Câu trả lời chưa tốt",
}

CATALOGUE: dict[str, dict[str, str]] = {"en": _EN, "vi": _VI}


def pick_language(hint: str | None, default: str) -> str:
    """Map a platform language hint ("vi", "vi-VN", "en_US") to a supported language."""
    if hint:
        base = hint.replace("_", "-").split("-", 1)[0].lower()
        if base in SUPPORTED:
            return base
    return default if default in SUPPORTED else "en"


def t(lang: str, key: str, **values: object) -> str:
    """The string ``key`` in ``lang`` (English when missing), formatted with ``values``."""
    table = CATALOGUE.get(lang, _EN)
    text = table.get(key) or _EN[key]
    return text.format(**values) if values else text
