"""Access control: off by default; once configured, everything but ``/healthz``
needs a user's password, a token or the session cookie a login gives.

What a request may present, checked in this order:

* the session cookie, set by the login form (``/login``) or by a page opened
  with ``?token=``: browsers send no credentials from an ``<img>`` URL
  (``http://user:pass@host/…`` is blocked), so the page's stream rides on the
  cookie. It is HttpOnly, SameSite=Lax, Secure under HTTPS, and signed with a
  key made at start-up: a restart logs everyone out (nothing is written to disk);
* ``Authorization: Basic`` with a user of the ``--auth-file`` (htpasswd, bcrypt),
  or any user name with a token as the password (for apps that only know
  user/password);
* ``Authorization: Bearer TOKEN`` or ``?token=TOKEN`` (Home Assistant, OctoPrint
  and other apps that take a URL).

Tokens are compared with :func:`hmac.compare_digest` against every configured
token. A user name not in the file still costs one bcrypt check, against the
file's costliest hash with the answer ignored: the same work as a known user's
wrong password, so timing does not tell which names exist. (A file whose users
have different costs still tells a cheaper user from an unknown one; ``htpasswd
-B`` writes cost 5, ``mjpeg-server passwd`` 10 unless ``--cost`` says otherwise.)
A verified password is remembered (keyed by an HMAC of the credentials, never
the password) so a client polling with Basic credentials pays bcrypt once, not
on every request.

Failures (wrong, unknown or malformed credentials) are logged and counted per
client address; past ``MAX_FAILURES`` in ``FAILURE_WINDOW`` seconds that address
gets 429 for any credentials but a valid cookie until the window passes. The
address is the peer's, or for a peer on loopback (a reverse proxy on this
machine) the last address it added to ``X-Forwarded-For``.

Unauthenticated requests get ``401`` with ``WWW-Authenticate: Basic``; a
browser navigating to a page (``Accept: text/html``) is sent to the login form
instead. The check runs in Flask's ``before_request``, so it covers every
server that runs the app.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from ..config import ConfigError, Settings
from . import htpasswd

__all__ = ["Auth", "FailureLimiter", "install", "load_tokens", "may_block", "warn_if_exposed"]

log = logging.getLogger(__name__)

EXTENSION = "mjpeg_server.auth"
COOKIE = "mjpeg_server_session"
SESSION_SECONDS = 7 * 24 * 3600
REALM = "mjpeg-server"
MIN_TOKEN_LENGTH = 16
#: Failed attempts one client address may make in FAILURE_WINDOW seconds.
MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
#: Addresses (and verified passwords) remembered at most: bounded memory under attack.
_MAX_REMEMBERED = 4096
_VERIFIED_SECONDS = 300.0
#: Endpoints open to everyone: the health check, and the login form itself.
_OPEN_ENDPOINTS = frozenset({"mjpeg.healthz", "auth.login", "auth.logout"})


def load_tokens(tokens: tuple[str, ...], token_file: str | None) -> tuple[str, ...]:
    """The configured tokens: given ones plus a file's (one per line, ``#`` comments)."""
    found = list(tokens)
    if token_file:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ConfigError(f"cannot read token file {token_file}: {reason}") from None
        found += [line.strip() for line in text.splitlines()]
        found = [token for token in found if token and not token.startswith("#")]
        if len(found) == len(tokens):
            raise ConfigError(f"token file {token_file} has no tokens")
    for token in found:
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise ConfigError(
                f"a token needs at least {MIN_TOKEN_LENGTH} characters and no spaces; make one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe())'"
            )
    return tuple(found)


class FailureLimiter:
    """Failed attempts per client address in a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str, now: float | None = None) -> float:
        """Seconds until ``address`` may try again; 0 if it may now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(address, now)
            if len(times) < self.limit:
                return 0.0
            return times[-self.limit] + self.window - now

    def record(self, address: str, now: float | None = None) -> int:
        """Count a failure; returns the address's failures in the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(address, now)
            times.append(now)
            self._failures[address] = times
            self._failures.move_to_end(address)
            while len(self._failures) > _MAX_REMEMBERED:
                self._failures.popitem(last=False)
            return len(times)


@dataclass
class Auth:
    """The credentials the server accepts, and what happened to attempts."""

    users: dict[str, str]
    tokens: tuple[bytes, ...]
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    #: Wrong, unknown or malformed credentials (also while locked out).
    failures: int = 0
    #: Requests answered 429 because their address failed too often.
    locked_out: int = 0
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    _verified: OrderedDict[bytes, float] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Checked (answer ignored) for a user not in the file: the file's own costliest
    #: hash, so an unknown user costs what a known one does. A hash made here at a
    #: fixed cost would cost 32 times a known user's for a file at htpasswd -B's 5.
    _dummy_hash: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if self.users:
            self._dummy_hash = max(self.users.values(), key=htpasswd.cost)

    @classmethod
    def from_settings(cls, settings: Settings) -> Auth | None:
        """``None`` when no credentials are configured (access is open)."""
        users = htpasswd.load(Path(settings.auth_file)) if settings.auth_file else {}
        tokens = load_tokens(settings.tokens, settings.token_file)
        if not users and not tokens:
            return None
        return cls(users, tuple(token.encode() for token in tokens))

    # -- checks -------------------------------------------------------------

    def check_token(self, token: str) -> bool:
        presented = token.encode("utf-8", "replace")
        matched = False
        for known in self.tokens:  # no early exit: the time says nothing about which
            matched |= hmac.compare_digest(presented, known)
        return matched

    def check_password(self, user: str, password: str) -> bool:
        """A user of the auth file with their password, or any user with a token."""
        if self.tokens and self.check_token(password):
            return True
        if not self.users:
            return False
        key = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        now = time.monotonic()
        with self._lock:
            expiry = self._verified.get(key)
            if expiry is not None and expiry > now:
                return True
        hashed = self.users.get(user)
        if hashed is None:
            htpasswd.verify(password, self._dummy_hash)
            return False
        if not htpasswd.verify(password, hashed):
            return False
        with self._lock:
            self._verified[key] = now + _VERIFIED_SECONDS
            self._verified.move_to_end(key)
            while len(self._verified) > _MAX_REMEMBERED:
                self._verified.popitem(last=False)
        return True

    # -- session cookie -----------------------------------------------------

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def session_cookie(self, user: str, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + SESSION_SECONDS)
        payload = f"{expiry}.{base64.urlsafe_b64encode(user.encode()).decode()}"
        return f"{payload}.{self._sign(payload)}"

    def session_user(self, cookie: str, now: float | None = None) -> str | None:
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        expiry, _, user = payload.partition(".")
        try:
            if int(expiry) < (time.time() if now is None else now):
                return None
            return base64.urlsafe_b64decode(user).decode()
        except (ValueError, binascii.Error):
            return None


def client_address() -> str:
    """The address failures are counted against (see the module docstring)."""
    peer = request.remote_addr or "?"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _is_loopback(peer):
        return forwarded.rsplit(",", 1)[-1].strip() or peer
    return peer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class _Malformed(Exception):
    pass


def _presented() -> tuple[str, str, str] | None:
    """``(kind, user, secret)`` the request presents, ``None`` if nothing.

    Raises :class:`_Malformed` for an Authorization header that cannot be read.
    """
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return "bearer", "", value
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise _Malformed("undecodable Basic credentials") from None
            user, sep, password = decoded.partition(":")
            if not sep:
                raise _Malformed("Basic credentials without a colon")
            return "basic", user, password
        raise _Malformed(f"unsupported Authorization scheme {scheme[:20]!r}")
    token = request.args.get("token")
    if token is not None:
        return "token", "", token
    return None


def _auth() -> Auth:
    auth: Auth = current_app.extensions[EXTENSION]
    return auth


def _wants_page() -> bool:
    # Browsers navigating ask for text/html first; <img>, fetch() and tools do not
    # (curl's */* must get the 401, not a redirect to a form).
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "")


def _challenge(message: str) -> Response:
    return Response(
        message + "\n",
        401,
        {
            "WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"',
            "Cache-Control": "no-store",
        },
        mimetype="text/plain",
    )


def _too_many(retry_after: float) -> Response:
    return Response(
        "Too many failed attempts from your address; try again later.\n",
        429,
        {"Retry-After": str(max(1, round(retry_after))), "Cache-Control": "no-store"},
        mimetype="text/plain",
    )


def _fail(auth: Auth, address: str, reason: str, who: str = "") -> None:
    with auth._lock:
        auth.failures += 1
    count = auth.limiter.record(address)
    user = f" (user {who!r})" if who else ""
    log.warning("auth: %s from %s%s; %d failures in %g s", reason, address, user, count,
                auth.limiter.window)  # fmt: skip


def _check_request() -> BaseResponse | None:
    """The before_request hook: ``None`` lets an authenticated request through."""
    if request.endpoint in _OPEN_ENDPOINTS:
        return None
    auth = _auth()
    cookie = request.cookies.get(COOKIE)
    if cookie and auth.session_user(cookie) is not None:
        return None
    try:
        presented = _presented()
    except _Malformed as error:
        presented = ("malformed", "", str(error))
    if presented is None:
        if _wants_page():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")), 303)
        return _challenge("Authentication required.")
    return _check_presented(auth, *presented)


def _refuse_if_locked(auth: Auth, address: str) -> Response | None:
    retry_after = auth.limiter.retry_after(address)
    if retry_after <= 0:
        return None
    with auth._lock:
        auth.locked_out += 1
    return _too_many(retry_after)


def _check_presented(auth: Auth, kind: str, user: str, secret: str) -> Response | None:
    address = client_address()
    refusal = _refuse_if_locked(auth, address)
    if refusal is not None:
        return refusal
    if kind == "malformed":
        _fail(auth, address, secret)
        return _challenge("Malformed credentials.")
    ok = auth.check_password(user, secret) if kind == "basic" else auth.check_token(secret)
    if not ok:
        _fail(auth, address, f"wrong {'password' if kind == 'basic' else 'token'}", user)
        return _challenge("Wrong credentials.")
    if kind == "token" and _wants_page():
        # A page opened with ?token=: its <img> stream and status polls carry no
        # token, so the page's browser gets the session cookie.
        g.mjpeg_session_user = "token"
    return None


def _set_cookie(response: BaseResponse, value: str, max_age: int) -> None:
    secure = request.is_secure or request.headers.get("X-Forwarded-Proto", "") == "https"
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        expires=None if max_age else 0,  # 0: 1970, which every client takes as "delete"
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def _after_request(response: Response) -> Response:
    user = g.pop("mjpeg_session_user", None)
    if user is not None:
        _set_cookie(response, _auth().session_cookie(user), SESSION_SECONDS)
    return response


bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only a path on this server: never an open redirect to another site.
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("mjpeg.viewer")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    auth = _auth()
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None, users=bool(auth.users)), 200
    address = client_address()
    refusal = _refuse_if_locked(auth, address)
    if refusal is not None:
        return refusal
    user = request.form.get("user", "").strip()
    secret = request.form.get("password", "")
    ok = auth.check_password(user, secret) if user else auth.check_token(secret)
    if not ok:
        _fail(auth, address, "wrong login", user)
        page = render_template(
            "login.html", next=target, error="Wrong user name or password.", users=bool(auth.users)
        )
        return page, 403
    log.info("auth: %s logged in from %s", repr(user) if user else "a token", address)
    response = redirect(target, 303)
    _set_cookie(response, auth.session_cookie(user or "token"), SESSION_SECONDS)
    return response


@bp.get("/logout")
def logout() -> BaseResponse:
    response = redirect(url_for("auth.login"), 303)
    _set_cookie(response, "", 0)
    return response


def install(app: Flask, settings: Settings) -> Auth | None:
    """Protect ``app`` if ``settings`` configure credentials. Runs before the other
    ``before_request`` hooks (register it first), so aliases are covered too."""
    auth = Auth.from_settings(settings)
    app.extensions[EXTENSION] = auth
    if auth is None:
        return None
    app.register_blueprint(bp)
    app.before_request(_check_request)
    app.after_request(_after_request)
    return auth


def may_block(app: Flask, authorization: str | None) -> bool:
    """True if checking a request with this ``Authorization`` header may take a
    bcrypt hash (a Basic password against the auth file): tens of milliseconds
    that belong on a thread, never on the server's event loop."""
    auth = of(app)
    return auth is not None and bool(auth.users) and authorization is not None


def of(app: Flask) -> Auth | None:
    """The app's :class:`Auth`, or ``None`` when access is open."""
    auth: Auth | None = app.extensions.get(EXTENSION)
    return auth


def warn_if_exposed(settings: Settings, bound_address: str, port: int) -> None:
    """One warning line when anyone on the network can watch."""
    if settings.auth_file or settings.tokens or settings.token_file:
        return
    if _is_loopback(bound_address):
        return
    log.warning(
        "listening on %s without authentication: anyone who can reach port %d can watch "
        "(see --auth-file and --token)",
        bound_address,
        port,
    )
