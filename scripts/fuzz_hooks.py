"""Schemathesis hooks for scripts/fuzz-api.sh (loaded with SCHEMATHESIS_HOOKS=fuzz_hooks).

Contract fuzzing that stays signed in:

- ``FreshLogin`` (an ``@schemathesis.auth`` provider; schemathesis's own cache
  is off, ``refresh_interval=None``) signs every authenticated call in with a
  live session, obtained the way an app does: send-otp-email to a fresh
  address, the code read from the dev console (the worker runs with
  EMAIL_PROVIDER=log, which prints it), verify-otp-email. Each operation keeps
  its own session until a call changes it (any 2xx of a POST, PATCH or DELETE:
  a logout, a deletion, a completed registration, a profile edit) or it answers
  401; the next call then signs in afresh. So no call inherits a session that
  an earlier one ended or changed, and the logins stay under the worker's mail
  ceiling (300 code mails a minute). In the stateful phase a call reached
  through a link (verify-otp-email 200 -> users/me, logout, ...) keeps the
  token the link carried, so the walk follows one user's session.
- ``before_call`` puts a real code into a share of well-formed verify-otp-email
  calls, a real refresh token into a share of refresh-token calls and the
  session's own refresh token into a share of logout calls, so those
  operations, and the links from their 200 answers, are exercised past
  404/401 too; a share of cancel-deletion calls come from a user who scheduled
  the deletion first. Malformed (negative) cases are left exactly as generated.
- ``after_call`` counts statuses per operation into FUZZ_API_COUNTS (JSON), which
  the script prints and checks: every bearer operation must answer something
  other than 401/403 for most calls.

Environment: FUZZ_API_BASE (the dev server), FUZZ_API_DEV_LOG (its console log),
FUZZ_API_COUNTS (where to write the counts), FUZZ_API_REAL_SHARE (0.5).
"""

import json
import os
import random
import re
import threading
import time
import urllib.error
import urllib.request

import schemathesis

BASE = os.environ["FUZZ_API_BASE"]
DEV_LOG = os.environ["FUZZ_API_DEV_LOG"]
COUNTS_FILE = os.environ.get("FUZZ_API_COUNTS")
REAL_SHARE = float(os.environ.get("FUZZ_API_REAL_SHARE", "0.5"))
SEND = "/api/v1/auth/send-otp-email"
DELETION = "/api/v1/users/me/deletion"
LOGOUT = "/api/v1/auth/logout"
VERIFY = "/api/v1/auth/verify-otp-email"
REFRESH = "/api/v1/auth/refresh-token"

_rng = random.Random(20261125)
_lock = threading.Lock()
_state = {"seq": 0, "offset": 0, "logins": 0}
_codes = {}  # address -> the last code the dev console printed for it
_counts = {}  # "METHOD /path" -> {"all"|"token": {status: n}, "why401": {message: n}}
_refresh_of = {}  # access token -> the refresh token of the same login
_email_of = {}  # access token -> the address of its account
_session_of = {}  # operation -> the access token its calls use until it changes
KEEP = object()  # the case already carries a token (from a link)


def _ip():
    # A distinct client IP per login, so the per-IP flood limits stay out of the way.
    return f"10.{_rng.randrange(256)}.{_rng.randrange(256)}.{_rng.randrange(1, 255)}"


def _post(path, body):
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "cf-connecting-ip": _ip()},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        body = json.load(error)
        if isinstance(body, dict):
            body["retryAfter"] = error.headers.get("Retry-After")
        return error.code, body


def _scan_log():
    """Reads what the dev console printed since the last scan; remembers codes."""
    with open(DEV_LOG, "rb") as log:
        log.seek(_state["offset"])
        chunk = log.read()
    end = chunk.rfind(b"\n") + 1
    _state["offset"] += end
    for line in chunk[:end].decode("utf-8", "replace").splitlines():
        if "otp_mail_logged" not in line:
            continue
        try:
            event = json.loads(line[line.index("{") : line.rindex("}") + 1])
        except ValueError:
            continue
        found = re.search(r"^\s*(\d{4,8})\s*$", event.get("text", ""), re.M)
        if found:
            _codes[event.get("to")] = found.group(1)


def _code_for(email, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            _scan_log()
            if email in _codes:
                return _codes.pop(email)
        time.sleep(0.05)
    raise RuntimeError(f"no code for {email} in the dev console within {timeout}s")


def send_code():
    """A fresh address and the code mailed to it."""
    with _lock:
        _state["seq"] += 1
        email = f"fuzz-{os.getpid()}-{_state['seq']}@example.com"
    return email, code_to(email)


def code_to(email):
    """A code mailed to `email`, read from the dev console."""
    for _ in range(3):
        status, body = _post(SEND, {"email": email})
        if status != 429:
            break
        # The mail ceiling (the generated sends count too): wait as told, briefly.
        time.sleep(min(float(body.get("retryAfter") or 0) or 10.0, 20.0))
    if status != 200:
        raise RuntimeError(f"send-otp-email answered {status}: {body}")
    return _code_for(email)


def login():
    """A new session of a new user: the verify answer's data."""
    email, code = send_code()
    status, body = _post(VERIFY, {"email": email, "code": code})
    if status != 200:
        raise RuntimeError(f"verify-otp-email answered {status}: {body}")
    data = body["data"]
    with _lock:
        _state["logins"] += 1
        _refresh_of[data["accessToken"]] = data["refreshToken"]
        _email_of[data["accessToken"]] = email
    return data


def _post_bearer(path, token, body):
    request = urllib.request.Request(
        BASE + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"authorization": f"Bearer {token}", "content-type": "application/json", "cf-connecting-ip": _ip()},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _phase(case):
    phase = getattr(getattr(case, "meta", None), "phase", None)
    return str(getattr(phase, "name", ""))


def _positive(case):
    generation = getattr(getattr(case, "meta", None), "generation", None)
    return str(getattr(generation, "mode", "positive")) == "positive"


def _secured(operation):
    return bool(operation.definition.raw.get("security"))


@schemathesis.auth(refresh_interval=None)
class FreshLogin:
    """A fresh access token for every authenticated call (no caching)."""

    def get(self, case, context):
        if not _secured(context.operation):
            return None
        headers = case.headers or {}
        if _phase(case) == "stateful" and str(headers.get("Authorization", "")).startswith("Bearer ey"):
            return KEEP  # a link from a login brought this session's token
        operation = context.operation
        label = f"{operation.method.upper()} {operation.path}"
        with _lock:
            token = _session_of.get(label)
        if token is None:
            token = login()["accessToken"]
            if operation.method.upper() == "DELETE" and operation.path.endswith(DELETION):
                # Something to cancel: this user asked for the account's deletion
                # first, confirmed with a code mailed to the account's address.
                _post_bearer(DELETION, token, {"code": code_to(_email_of[token])})
            with _lock:
                _session_of[label] = token
        return token

    def set(self, case, data, context):
        if data is KEEP:
            return
        headers = dict(case.headers or {})
        headers["Authorization"] = f"Bearer {data}"
        case.headers = headers


@schemathesis.hook
def before_call(context, case, kwargs):
    # Calls come from many clients, as in production, so the per-IP flood limit
    # (20 sends a minute) does not turn most of the run into 429s.
    headers = dict(case.headers or {})
    headers.setdefault("cf-connecting-ip", _ip())
    case.headers = headers
    if not _positive(case) or not isinstance(case.body, dict):
        return
    path = case.operation.path
    if path.endswith(VERIFY) and _rng.random() < REAL_SHARE:
        email, code = send_code()
        case.body = {**case.body, "email": email, "code": code}
    elif path.endswith(REFRESH) and not str(case.body.get("refreshToken", "")).startswith("ey"):
        if _rng.random() < REAL_SHARE:
            case.body = {**case.body, "refreshToken": login()["refreshToken"]}
    elif path.endswith(DELETION) and case.operation.method.upper() == "POST" and _rng.random() < REAL_SHARE:
        # The step-up: a code mailed to the address of the account signed in.
        token = str((case.headers or {}).get("Authorization", ""))[len("Bearer ") :]
        if token in _email_of:
            case.body = {**case.body, "code": code_to(_email_of[token])}
    elif path.endswith(LOGOUT) and not case.body.get("allSessions") and _rng.random() < REAL_SHARE:
        # Log out of the session the call is signed in with.
        token = str((case.headers or {}).get("Authorization", ""))[len("Bearer ") :]
        if token in _refresh_of:
            case.body = {**case.body, "refreshToken": _refresh_of[token]}


def _credentials(case):
    """What the call carried: a token the service issued, something else, or nothing."""
    value = str((case.headers or {}).get("Authorization", ""))
    if not value:
        return "none"
    return "token" if value.startswith("Bearer ey") and value.count(".") == 2 else "other"


@schemathesis.hook
def after_call(context, case, response):
    key = f"{case.operation.method.upper()} {case.operation.path}"
    status = str(response.status_code)
    sent = str((case.headers or {}).get("Authorization", ""))[len("Bearer ") :]
    changed = case.operation.method.upper() != "GET" and 200 <= response.status_code < 300
    with _lock:
        if _session_of.get(key) == sent and (changed or response.status_code == 401):
            del _session_of[key]  # the next call signs in afresh
        per = _counts.setdefault(key, {"all": {}, "token": {}, "why401": {}})
        per["all"][status] = per["all"].get(status, 0) + 1
        if _credentials(case) == "token":
            per["token"][status] = per["token"].get(status, 0) + 1
            if status == "401":
                try:
                    why = "; ".join(response.json().get("errors", []))
                except Exception:
                    why = "?"
                per["why401"][why] = per["why401"].get(why, 0) + 1
        if COUNTS_FILE:
            with open(COUNTS_FILE, "w") as out:
                json.dump({"operations": _counts, "logins": _state["logins"]}, out)
