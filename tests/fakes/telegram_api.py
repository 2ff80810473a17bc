"""A fake Telegram Bot API on 127.0.0.1, standard library only, with fault injection."""
from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
import string
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.fakes.local_server import FakeHandler, LocalServer

BOT_ID = 123456789
BOT_USERNAME = "surveyd_test_bot"
BOT_FIRST_NAME = "surveyd"
API_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[^/]*)$")
LONG_POLL_CAP = 2.0  # seconds: a test that forgets its poll must not stall for Telegram's 50 s
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64  # bytes, as Telegram counts it
COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
WEBHOOK_PORTS = {80, 88, 443, 8443}
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")

# Form and multipart values are all strings (PTB JSON-encodes every non-string parameter), so
# these are turned back into what Telegram itself would see.
JSON_PARAMS = frozenset({
    "reply_markup", "allowed_updates", "commands", "scope", "entities", "caption_entities",
    "link_preview_options", "reply_parameters",
})
NUMBER_PARAMS = frozenset({
    "chat_id", "message_id", "from_chat_id", "user_id", "message_thread_id", "reply_to_message_id",
    "offset", "limit", "timeout", "max_connections", "cache_time",
})
BOOL_PARAMS = frozenset({
    "show_alert", "drop_pending_updates", "disable_notification", "protect_content",
    "disable_web_page_preview", "allow_sending_without_reply",
})
FAULTY = frozenset({"sendMessage", "editMessageText"})  # the methods injected faults apply to
STORING = FAULTY  # the methods delay_after_store slows down once they have stored

_ids_lock = threading.Lock()
_update_ids = itertools.count(1)
# One sequence for user and bot messages alike: in a private chat both sides share the ids, and
# builder-made ids then never collide with the fake's.
_message_ids = itertools.count(1)


def _next(counter: itertools.count) -> int:
    with _ids_lock:
        return next(counter)


def _default_token() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return f"{BOT_ID}:AA" + "".join(secrets.choice(alphabet) for _ in range(33))


def _user(user_id: int, first_name: str, language_code: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        user["language_code"] = language_code
    return user


def _private_chat(chat_id: int, first_name: str) -> dict[str, Any]:
    return {"id": chat_id, "first_name": first_name, "type": "private"}


def _bot(bot_id: int = BOT_ID, username: str = BOT_USERNAME) -> dict[str, Any]:
    return {"id": bot_id, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": username}


def message_update(chat_id: int, text: str, *, update_id: int | None = None, first_name: str = "Ada",
                   language_code: str | None = "en", message_id: int | None = None) -> dict[str, Any]:
    """An Update with a user's text message in their private chat with the bot."""
    message: dict[str, Any] = {
        "message_id": message_id if message_id is not None else _next(_message_ids),
        "from": _user(chat_id, first_name, language_code), "chat": _private_chat(chat_id, first_name),
        "date": int(time.time()), "text": text,
    }
    command = COMMAND.match(text)
    if command:
        # Entity offsets count UTF-16 code units; a command is ASCII, so len() is the same here.
        message["entities"] = [{"offset": 0, "length": len(command[0]), "type": "bot_command"}]
    return {"update_id": update_id if update_id is not None else _next(_update_ids), "message": message}


def callback_update(chat_id: int, message_id: int, data: str, *, update_id: int | None = None,
                    language_code: str | None = "en", message_text: str = "...",
                    first_name: str = "Ada") -> dict[str, Any]:
    """An Update with a button press on the (default test) bot's message message_id in chat_id."""
    query = {
        "id": str(secrets.randbits(62)), "from": _user(chat_id, first_name, language_code),
        # Telegram's chat_instance is an opaque, stable per-chat number sent as a string.
        "chat_instance": str(-(10**18) - chat_id), "data": data,
        "message": {
            "message_id": message_id, "from": _bot(), "chat": _private_chat(chat_id, first_name),
            "date": int(time.time()), "text": message_text,
        },
    }
    return {"update_id": update_id if update_id is not None else _next(_update_ids), "callback_query": query}


class _ApiError(Exception):
    """A Telegram error answer: its HTTP status and body."""

    def __init__(self, status: int, description: str, **parameters: Any):
        super().__init__(description)
        self.status = status
        self.payload: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            self.payload["parameters"] = parameters


def _number(value: str) -> int | float | str:
    """A form value as a number ("-1001" -> -1001); a "@channel" username stays a string."""
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    try:
        return float(value)
    except ValueError:
        return value


def _normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """Decode JSON-encoded objects, numbers and booleans the way Telegram reads parameters."""
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, str) and name in JSON_PARAMS:
            try:
                value = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if name == "reply_markup" else name
                raise _ApiError(400, f"Bad Request: can't parse {what} JSON object") from None
        elif isinstance(value, str) and name in NUMBER_PARAMS:
            value = _number(value)
        elif isinstance(value, str) and name in BOOL_PARAMS and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        params[name] = value
    return params


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    """Query-string parameters overlaid with a JSON, urlencoded or multipart body."""
    raw: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body:
        pass
    elif media_type == "application/json":
        try:
            loaded = json.loads(body)
        except ValueError:
            raise _ApiError(400, "Bad Request: can't parse JSON body") from None
        if not isinstance(loaded, dict):
            raise _ApiError(400, "Bad Request: can't parse JSON body")
        raw.update(loaded)
    elif media_type == "multipart/form-data":
        raw.update(_multipart(content_type, body))
    else:
        raw.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
    return _normalise(raw)


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Fields of a multipart/form-data body: text as str, uploaded files as bytes."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise _ApiError(400, "Bad Request: can't parse multipart body")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name:
            fields[str(name)] = payload if part.get_filename() else payload.decode()
    return fields


def _inline_keyboard(markup: Any) -> list[list[dict[str, Any]]] | None:
    """The rows of an inline keyboard (validated like Telegram), or None for any other markup."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) and all(isinstance(b, dict) for b in r)
                                             for r in rows):
        raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in itertools.chain.from_iterable(rows):
        if set(button) <= {"text"}:
            raise _ApiError(400, "Bad Request: can't parse inline keyboard button: "
                                 "Text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
            raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return rows


class FakeTelegram(LocalServer):
    """Answers /bot<token>/<method> like the Telegram Bot API, records everything, fails on request."""

    thread_name = "fake-telegram"

    def __init__(self, token: str | None = None):
        super().__init__()
        self.token = token or _default_token()
        self.bot_id = int(self.token.split(":", 1)[0])
        self.username = BOT_USERNAME
        self.blocked: set[int] = set()
        self.unknown_chats: set[int] = set()
        self._updated = threading.Condition(self._lock)  # wakes long polls when an update is pushed
        self._stopping = False
        self._sent: list[dict[str, Any]] = []
        self._edits: list[dict[str, Any]] = []
        self._callback_answers: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._stored: dict[tuple[int, int], dict[str, Any]] = {}  # (chat_id, message_id) -> Message
        self._chats: dict[int, dict[str, Any]] = {}  # learned from pushed updates
        self._updates: list[dict[str, Any]] = []
        self._webhook: dict[str, Any] | None = None
        self._commands: list[dict[str, Any]] = []
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
            name.lower(): (name, handler) for name, handler in {
                "getMe": self._get_me, "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text, "editMessageReplyMarkup": self._edit_reply_markup,
                "answerCallbackQuery": self._answer_callback_query, "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook, "getWebhookInfo": self._get_webhook_info,
                "getUpdates": self._get_updates, "setMyCommands": self._set_my_commands,
                "deleteMyCommands": self._delete_my_commands,
            }.items()
        }
        self.reset_faults()

    def _on_start(self) -> None:
        with self._lock:
            self._stopping = False

    def _on_stop(self) -> None:
        # End pending long polls first: they wait on the condition, not on the socket.
        with self._updated:
            self._stopping = True
            self._updated.notify_all()

    @property
    def sent(self) -> list[dict[str, Any]]:
        """A snapshot of every stored sendMessage, oldest first."""
        return self._snapshot(self._sent)

    @property
    def edits(self) -> list[dict[str, Any]]:
        """A snapshot of every applied editMessageText / editMessageReplyMarkup, oldest first."""
        return self._snapshot(self._edits)

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        """A snapshot of every answerCallbackQuery, oldest first."""
        return self._snapshot(self._callback_answers)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every API call, failed ones included, with its method, params, time and status."""
        return self._snapshot(self._requests)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """A snapshot of the updates getUpdates has not seen confirmed yet."""
        return self._snapshot(self._updates)

    @property
    def webhook(self) -> dict[str, Any] | None:
        """The current setWebhook parameters (secret_token included), or None without a webhook."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The command list of the latest setMyCommands ([] after deleteMyCommands)."""
        return self._snapshot(self._commands)

    def _snapshot(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(records)

    def messages_to(self, chat_id: int) -> list[str]:
        """The texts sent to that chat, oldest first, as sent (later edits not applied)."""
        return [m["text"] for m in self.sent if m["chat_id"] == chat_id]

    def clear(self) -> None:
        """Forget every record; stored messages, updates, the webhook and faults stay."""
        with self._lock:
            for records in (self._sent, self._edits, self._callback_answers, self._requests):
                records.clear()

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates and wake any long poll."""
        update = json.loads(json.dumps(update))  # an unserialisable update fails here, not in a handler
        message = update.get("message") or (update.get("callback_query") or {}).get("message") or {}
        with self._updated:
            if "chat" in message:
                self._chats[message["chat"]["id"]] = message["chat"]
            self._updates.append(update)
            self._updated.notify_all()

    def webhook_answered(self, status: int, content_type: str, body: bytes) -> None:
        """What Telegram does with the webhook's response to an update: a JSON body naming a "method" is performed
        as that call (Bot API, "Making requests when getting updates"); anything else is ignored."""
        if status != 200 or not content_type.startswith("application/json") or not body:
            return
        params = json.loads(body)
        method = params.pop("method", None) if isinstance(params, dict) else None
        if method:
            self._handle(f"/bot{self.token}/{method}", "", "application/json", json.dumps(params).encode())

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next n sendMessage/editMessageText calls get that status; nothing is stored."""
        try:
            description = HTTPStatus(status).phrase
        except ValueError:
            description = "Unknown error"
        with self._lock:
            self._failures.extend([_ApiError(status, description)] * n)

    def throttle_next(self, n: int, retry_after: int = 2) -> None:
        """The next n sendMessage/editMessageText calls get 429 with parameters.retry_after."""
        error = _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        with self._lock:
            self._failures.extend([error] * n)


    def reset_faults(self) -> None:
        """Answer every request normally from now on (blocked and unknown chats are emptied too)."""
        with self._lock:
            self._failures: list[_ApiError] = []
            self._delay, self._delays_left = 0.0, None
            self.blocked.clear()  # cleared in place: a test may hold a reference to the set
            self.unknown_chats.clear()

    def _take_fault(self) -> _ApiError | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None


    def _handle(self, path: str, query: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any], float]:
        """Route, check, fault and answer one call: (status, JSON payload, seconds to wait first)."""
        match = API_PATH.match(path)
        method = match["method"] if match else path
        name, handler = self._methods.get(method.lower(), (method, None))
        record: dict[str, Any] = {"method": name, "params": {}, "received_at": time.monotonic(), "status": None}
        with self._lock:
            self._requests.append(record)
        delay = 0.0
        try:
            try:
                params, unreadable = _parse_params(query, content_type, body), None
            except _ApiError as exc:
                params, unreadable = {}, exc
            with self._lock:
                record["params"] = params
            # Telegram checks the token before the method, and both before the parameters.
            if not match:
                raise _ApiError(404, "Not Found")
            if match["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            if handler is None:
                raise _ApiError(404, "Not Found: method not found")
            if unreadable:
                raise unreadable
            fault = self._take_fault() if name in FAULTY else None
            if fault:
                raise fault
            status, payload = 200, {"ok": True, "result": handler(params)}
            if name in STORING:
                delay = self._take_delay()
        except _ApiError as exc:
            status, payload = exc.status, exc.payload
        with self._lock:
            record["status"] = status
        return status, payload, delay

    def _bot_user(self) -> dict[str, Any]:
        return _bot(self.bot_id, self.username)

    def _chat(self, chat_id: int) -> dict[str, Any]:
        with self._lock:
            known = self._chats.get(chat_id)
        if known:
            return dict(known)
        if chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "title": "surveyd test group", "type": kind}
        return _private_chat(chat_id, "Ada")

    def _target_chat(self, params: dict[str, Any]) -> int:
        """The chat a message call addresses, after the blocked/unknown checks."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int) or chat_id in self.unknown_chats:
            raise _ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    @staticmethod
    def _text(params: dict[str, Any]) -> str:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise _ApiError(400, "Bad Request: message is too long")
        return text

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._bot_user() | {
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False,
            "can_connect_to_business": False, "has_main_web_app": False,
        }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, text = self._target_chat(params), self._text(params)
        markup = params.get("reply_markup")
        # Telegram echoes only inline keyboards in Message.reply_markup; reply keyboards are not.
        rows = _inline_keyboard(markup)
        message: dict[str, Any] = {
            "message_id": _next(_message_ids), "from": self._bot_user(), "chat": self._chat(chat_id),
            "date": int(time.time()), "text": text,
        }
        if rows:
            message["reply_markup"] = {"inline_keyboard": rows}
        record = {"chat_id": chat_id, "text": text, "reply_markup": markup, "message_id": message["message_id"],
                  "received_at": time.monotonic(), "params": params}
        with self._lock:
            self._stored[(chat_id, message["message_id"])] = message
            self._sent.append(record)
        return copy.deepcopy(message)

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._edit("editMessageText", params, self._text(params))

    def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._edit("editMessageReplyMarkup", params, None)

    def _edit(self, method: str, params: dict[str, Any], text: str | None) -> dict[str, Any]:
        """Apply an edit to a stored message; a missing reply_markup removes the keyboard, as on Telegram."""
        chat_id = self._target_chat(params)
        message_id = params.get("message_id")
        markup = params.get("reply_markup")
        rows = _inline_keyboard(markup)
        key = (chat_id, message_id)
        with self._lock:
            current = self._stored.get(key)  # type: ignore[arg-type]
            if current is None:
                raise _ApiError(400, "Bad Request: message to edit not found")
            new_text = current["text"] if text is None else text
            new_markup = {"inline_keyboard": rows} if rows else None
            if new_text == current["text"] and new_markup == current.get("reply_markup"):
                raise _ApiError(400, NOT_MODIFIED)
            edited = {k: v for k, v in current.items() if k != "reply_markup"}
            edited.update(text=new_text, edit_date=int(time.time()))
            if new_markup:
                edited["reply_markup"] = new_markup
            self._stored[key] = edited  # type: ignore[index]
            self._edits.append({"method": method, "chat_id": chat_id, "message_id": message_id, "text": text,
                                "reply_markup": markup, "received_at": time.monotonic(), "params": params})
            return copy.deepcopy(edited)

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = params.get("callback_query_id")
        if not query_id:
            raise _ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        record = {"callback_query_id": str(query_id), "text": params.get("text"),
                  "show_alert": params.get("show_alert", False), "received_at": time.monotonic(), "params": params}
        with self._lock:
            self._callback_answers.append(record)
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url", "")
        if not url:
            return self._delete_webhook(params)  # Telegram treats an empty url as deleteWebhook
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise _ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if (parts.port or 443) not in WEBHOOK_PORTS:
            raise _ApiError(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.match(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        config = {name: params.get(name) for name in
                  ("url", "secret_token", "allowed_updates", "drop_pending_updates", "max_connections")}
        with self._lock:
            self._webhook = config
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._webhook = None
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            webhook, pending = copy.deepcopy(self._webhook), len(self._updates)
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": pending}
        if webhook:
            info.update(url=webhook["url"], max_connections=webhook["max_connections"] or 40)
            if webhook["allowed_updates"]:
                info["allowed_updates"] = webhook["allowed_updates"]
        return info

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Confirm updates below offset, then long-poll (capped) until one is queued."""
        offset, limit, timeout = params.get("offset"), params.get("limit", 100), params.get("timeout", 0)
        if not all(isinstance(v, (int, float)) for v in (offset or 0, limit, timeout)):
            raise _ApiError(400, "Bad Request: wrong parameter type")
        deadline = time.monotonic() + min(max(timeout, 0), LONG_POLL_CAP)
        with self._updated:
            if self._webhook:
                raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                     "use deleteWebhook to delete the webhook first")
            if offset and offset < 0:
                self._updates = self._updates[int(offset):]  # -n keeps only the last n, as on Telegram
            elif offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._updated.wait(remaining)
            return copy.deepcopy(self._updates[:max(1, min(int(limit), 100))])

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH" if isinstance(commands, list)
                            else "Bad Request: parameter \"commands\" is required")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_NAME.match(str(command.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _ApiError(400, "Bad Request: command description is empty")
        with self._lock:
            self._commands = commands
        return True

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands = []
        return True


class _Handler(FakeHandler):
    server_version = "FakeTelegram/1.0"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        # Read the whole body even for a refused call, or its bytes would poison the kept-alive connection.
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        status, payload, delay = self.fake._handle(parts.path, parts.query, self.headers.get("Content-Type", ""),
                                                   body)
        if delay:
            time.sleep(delay)
        retry_after = payload.get("parameters", {}).get("retry_after")
        self.reply_json(status, payload, {"Retry-After": str(retry_after)} if retry_after else {})


FakeTelegram.handler_class = _Handler  # defined below the fake it serves
