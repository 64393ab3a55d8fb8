"""Access control on the real server process over real sockets: htpasswd users,
tokens, the login form's cookie, rate limiting, and start-up errors."""

from __future__ import annotations

import base64
import itertools
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mjpeg_server.client.stream import HTTPStatusError, iter_frames
from mjpeg_server.config import Settings
from mjpeg_server.server import htpasswd
from mjpeg_server.server.auth import MAX_FAILURES, Auth, FailureLimiter, warn_if_exposed
from mjpeg_server.wire.jpeg import is_complete_jpeg
from support.server import ServerProcess, assert_one_line_error, run_cli
from support.tools import require_tool
from support.waiting import LIVENESS

TOKEN = "t0ken-for-the-tests-0123456789"
PROTECTED = [
    "/",
    "/status",
    "/stream.mjpg",
    "/snapshot.jpg",
    "/?action=stream",
    "/stream",
    "/cameras/default/",
    "/static/viewer.css",
    "/no-such-page",
]
_addresses = itertools.count(1)


def fresh_address() -> dict[str, str]:
    """A client address of its own (the server trusts X-Forwarded-For from loopback),
    so one test's failures never lock another test out."""
    return {"X-Forwarded-For": f"198.51.100.{next(_addresses)}"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tool = require_tool("htpasswd", "apache2-utils")
    path = tmp_path_factory.mktemp("auth") / "users"
    subprocess.run([tool, "-B", "-c", "-b", str(path), "alice", "wonder land"], check=True)
    subprocess.run([tool, "-B", "-b", str(path), "bob", "builder"], check=True)
    return path


@pytest.fixture(scope="module")
def server(auth_file: Path) -> Iterator[ServerProcess]:
    with ServerProcess(
        "--auth-file", str(auth_file), "--token", TOKEN, "--camera", "emulated?fps=20"
    ) as s:
        yield s


def get(server: ServerProcess, path: str, **headers: str) -> requests.Response:
    return requests.get(
        server.url(path),
        headers={**fresh_address(), **headers},
        timeout=LIVENESS,
        stream=True,
        allow_redirects=False,
    )


def log_in(
    server: ServerProcess, user: str, password: str, headers: dict[str, str] | None = None
) -> requests.Response:
    """Send the login form (from an address of its own unless ``headers`` say);
    the redirect is the answer, not followed."""
    return requests.post(
        server.url("/login"),
        data={"user": user, "password": password},
        headers=headers or fresh_address(),
        allow_redirects=False,
        timeout=LIVENESS,
    )


def assert_challenged(response: requests.Response) -> None:
    with response:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="mjpeg-server"')


def test_healthz_needs_no_credentials(server: ServerProcess) -> None:
    assert get(server, "/healthz").text == "ok\n"


@pytest.mark.parametrize("path", PROTECTED)
def test_everything_else_needs_credentials(server: ServerProcess, path: str) -> None:
    assert_challenged(get(server, path))


@pytest.mark.parametrize(
    "authorization",
    [
        basic("alice", "wrong"),
        basic("mallory", "wonder land"),
        basic("alice", ""),
        "Bearer wrong-token-0123456789",
        "Bearer " + TOKEN[:-1],
    ],
    ids=["wrong-password", "unknown-user", "empty-password", "wrong-token", "token-prefix"],
)
def test_wrong_credentials_are_refused(server: ServerProcess, authorization: str) -> None:
    assert_challenged(get(server, "/status", Authorization=authorization))


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic",
        "Digest username=alice",
        "Bearer",
        "garbage",
    ],
    ids=["bad-base64", "no-colon", "not-utf8", "empty-basic", "digest", "empty-bearer", "garbage"],
)
def test_malformed_credentials_are_refused(server: ServerProcess, authorization: str) -> None:
    assert_challenged(get(server, "/status", Authorization=authorization))


def test_wrong_token_in_the_query_is_refused(server: ServerProcess) -> None:
    assert_challenged(get(server, "/stream.mjpg?token=nope"))


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": basic("alice", "wonder land")}, ""),
        ({"Authorization": basic("bob", "builder")}, ""),
        ({"Authorization": "Bearer " + TOKEN}, ""),
        ({"Authorization": basic("any-name", TOKEN)}, ""),
        ({}, "token=" + TOKEN),
    ],
    ids=["alice", "bob", "bearer", "token-as-basic-password", "query-token"],
)
def test_right_credentials_open_status_snapshot_and_stream(
    server: ServerProcess, headers: dict[str, str], query: str
) -> None:
    def with_query(path: str) -> str:
        return f"{path}{'&' if '?' in path else '?'}{query}" if query else path

    for path in ("/status", "/snapshot.jpg", "/?action=snapshot"):
        with get(server, with_query(path), **headers) as response:
            assert response.status_code == 200, path
    snapshot = get(server, with_query("/snapshot.jpg"), **headers).content
    assert is_complete_jpeg(snapshot)
    with get(server, with_query("/stream.mjpg"), **headers) as response:
        assert response.status_code == 200
        assert response.raw.read(14) == b"--mjpegframe\r\n"


def test_kit_client_reads_with_credentials_in_the_url(server: ServerProcess) -> None:
    url = server.url("/?action=stream").replace("http://", "http://alice:wonder%20land@")
    frames = list(itertools.islice(iter_frames(url, timeout=LIVENESS), 3))
    assert all(is_complete_jpeg(frame.jpeg) for frame in frames)
    with pytest.raises(HTTPStatusError) as refused:
        next(iter_frames(server.url("/stream.mjpg"), timeout=LIVENESS))
    assert refused.value.status_code == 401


def cookie_attributes(response: requests.Response) -> list[str]:
    header = response.headers["Set-Cookie"]
    return [part.strip() for part in header.split(";")]


def test_browser_login_form_sets_an_httponly_samesite_cookie(server: ServerProcess) -> None:
    browser = requests.Session()
    browser.headers.update({**fresh_address(), "Accept": "text/html,*/*;q=0.8"})
    # A page without a session goes to the form, which comes back afterwards.
    page = browser.get(server.url("/cameras/default/?x=1"), allow_redirects=False, timeout=30)
    assert page.status_code == 303
    assert page.headers["Location"] == "/login?next=/cameras/default/?x%3D1"
    form = browser.get(server.url(page.headers["Location"]), timeout=LIVENESS)
    assert form.status_code == 200
    assert 'name="password"' in form.text
    assert 'value="/cameras/default/?x=1"' in form.text
    wrong = browser.post(
        server.url("/login"),
        data={"user": "alice", "password": "nope", "next": "/cameras/default/"},
        allow_redirects=False,
        timeout=LIVENESS,
    )
    assert wrong.status_code == 403
    assert "Wrong user name or password" in wrong.text
    assert "Set-Cookie" not in wrong.headers
    right = browser.post(
        server.url("/login"),
        data={"user": "alice", "password": "wonder land", "next": "/cameras/default/"},
        allow_redirects=False,
        timeout=LIVENESS,
    )
    assert right.status_code == 303
    assert right.headers["Location"] == "/cameras/default/"
    attributes = cookie_attributes(right)
    assert attributes[0].startswith("mjpeg_server_session=")
    assert {"HttpOnly", "SameSite=Lax", "Path=/"} <= set(attributes)
    assert "Secure" not in attributes  # plain HTTP: a Secure cookie would never come back
    # The cookie opens the page, its stream (an <img> sends no Authorization) and status.
    assert browser.get(server.url("/cameras/default/"), timeout=LIVENESS).status_code == 200
    with browser.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as stream:
        assert stream.status_code == 200
    assert browser.get(server.url("/status"), timeout=LIVENESS).status_code == 200
    # Logging out ends it.
    browser.get(server.url("/logout"), allow_redirects=False, timeout=LIVENESS)
    again = browser.get(server.url("/cameras/default/"), allow_redirects=False, timeout=LIVENESS)
    assert again.status_code == 303


def test_login_with_a_token_and_secure_cookie_behind_https(server: ServerProcess) -> None:
    response = requests.post(
        server.url("/login"),
        data={"user": "", "password": TOKEN, "next": "https://elsewhere.example/"},
        headers={**fresh_address(), "X-Forwarded-Proto": "https"},
        allow_redirects=False,
        timeout=LIVENESS,
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"  # never a redirect to another site
    assert "Secure" in cookie_attributes(response)


def test_tampered_or_foreign_cookie_is_refused(server: ServerProcess) -> None:
    login = log_in(server, "bob", "builder")
    cookie = login.cookies["mjpeg_server_session"]
    payload, _, signature = cookie.rpartition(".")
    forged = payload.replace(".", ".x", 1) + "." + signature
    for value in (forged, cookie[:-1] + ("0" if cookie[-1] != "0" else "1"), "garbage"):
        response = requests.get(
            server.url("/status"),
            cookies={"mjpeg_server_session": value},
            headers=fresh_address(),
            timeout=LIVENESS,
        )
        assert response.status_code == 401


def test_a_page_opened_with_a_token_gets_the_cookie_for_its_stream(server: ServerProcess) -> None:
    browser = requests.Session()
    browser.headers.update({**fresh_address(), "Accept": "text/html"})
    page = browser.get(server.url("/?token=" + TOKEN), timeout=LIVENESS)
    assert page.status_code == 200
    assert "HttpOnly" in cookie_attributes(page)
    browser.headers["Accept"] = "image/*"
    with browser.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as stream:
        assert stream.status_code == 200


def test_failures_are_rate_limited_per_address_and_logged(server: ServerProcess) -> None:
    attacker = fresh_address()
    start = len(server.lines)
    for _ in range(MAX_FAILURES):
        response = get(server, "/status", Authorization=basic("alice", "guess"), **attacker)
        assert response.status_code == 401
    # Locked out now, even with the right password …
    locked = get(server, "/status", Authorization=basic("alice", "wonder land"), **attacker)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    # … and so is the login form …
    form = log_in(server, "alice", "wonder land", attacker)
    assert form.status_code == 429
    # … while another address is not.
    other = get(server, "/status", Authorization=basic("alice", "wonder land"))
    assert other.status_code == 200
    server.wait_for_log(r"auth: wrong password from 198\.51\.100\.\d+ \(user 'alice'\)", 10, start)
    assert "guess" not in server.output  # passwords are never logged


def test_failure_limiter_window() -> None:
    limiter = FailureLimiter(limit=3, window=10)
    for second in range(3):
        assert limiter.retry_after("a", now=second) == 0
        limiter.record("a", now=second)
    assert limiter.retry_after("a", now=3) == pytest.approx(7)
    assert limiter.retry_after("b", now=3) == 0
    assert limiter.retry_after("a", now=10.5) == 0  # the first failure left the window


def test_tokens_from_a_file_and_the_environment(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    other = "another-token-abcdefghijkl"
    token_file.write_text(f"# for Home Assistant\n{other}\n\n")
    env = {"MJPEG_SERVER_TOKEN": TOKEN}
    with ServerProcess("--token-file", str(token_file), env=env) as server:
        for token in (TOKEN, other):
            with get(server, "/snapshot.jpg?token=" + token) as response:
                assert response.status_code == 200
        assert_challenged(get(server, "/snapshot.jpg"))
        # No auth file: bcrypt is never loaded (idle memory budget).
        modules = Path(f"/proc/{server.worker_pid()}/maps").read_text()
        assert "_bcrypt" not in modules


def test_bcrypt_is_imported_only_for_an_auth_file(auth_file: Path) -> None:
    code = (
        "import sys\n"
        "from mjpeg_server import Settings, create_app\n"
        f"app = create_app(Settings(tokens=({TOKEN!r},)))\n"
        "client = app.test_client()\n"
        "assert client.get('/status', headers={'Authorization': 'Basic eDp5'}).status_code == 401\n"
        f"assert client.get('/status?token={TOKEN}').status_code == 200\n"
        "print('bcrypt' in sys.modules)\n"
        f"app = create_app(Settings(auth_file={str(auth_file)!r}))\n"
        "client = app.test_client()\n"
        "assert client.get('/status', headers={'Authorization': 'Basic eDp5'}).status_code == 401\n"
        "print('bcrypt' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(
    ("option", "kind"),
    [
        ("-m", "Apache MD5 ($apr1$)"),
        ("-s", "SHA-1 ({SHA})"),
        ("-d", "crypt() or plain text"),  # DES crypt(3): 13 characters, no prefix
        ("-p", "plain text"),
    ],
)
def test_other_hash_kinds_are_refused_at_start_up(tmp_path: Path, option: str, kind: str) -> None:
    tool = require_tool("htpasswd", "apache2-utils")
    path = tmp_path / "users"
    subprocess.run([tool, "-B", "-c", "-b", str(path), "ok", "pw"], check=True)
    subprocess.run([tool, option, "-b", str(path), "old", "pw"], check=True)
    result = run_cli(["--auth-file", str(path), "--port", "0"])
    assert_one_line_error(result, str(path), "line 2", "'old'", kind, "mjpeg-server passwd")


@pytest.mark.parametrize(
    ("option", "kind"),
    [("-1", "MD5-crypt ($1$)"), ("-5", "SHA-256-crypt ($5$)"), ("-6", "SHA-512-crypt ($6$)")],
)
def test_crypt_hash_kinds_are_refused_at_start_up(tmp_path: Path, option: str, kind: str) -> None:
    """crypt(3)'s $1$, $5$ and $6$, as openssl passwd (or an /etc/shadow) writes them."""
    openssl = require_tool("openssl", "openssl")
    made = subprocess.run(
        [openssl, "passwd", option, "pw"], capture_output=True, text=True, check=True
    )
    path = tmp_path / "users"
    path.write_text(f"old:{made.stdout.strip()}\n")
    result = run_cli(["--auth-file", str(path), "--port", "0"])
    assert_one_line_error(result, str(path), "line 1", "'old'", kind, "only bcrypt")


def test_a_damaged_bcrypt_hash_is_refused_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "users"
    whole = htpasswd.hash_password("pw", cost=4)
    path.write_text(f"whole:{whole}\ncut:{whole[:-1]}\n")
    result = run_cli(["--auth-file", str(path), "--port", "0"])
    assert_one_line_error(result, str(path), "line 2", "'cut'", "damaged bcrypt hash")


def test_bcrypt_as_apache_openbsd_and_older_libraries_write_it(tmp_path: Path) -> None:
    """$2y$ (htpasswd -B), $2b$ (Python's bcrypt, OpenBSD) and $2a$ (older
    libraries) are one algorithm for these passwords: each is accepted."""
    made = htpasswd.hash_password("same secret", cost=4).removeprefix("$2y$")
    path = tmp_path / "users"
    path.write_text("".join(f"user{kind}:${kind}${made}\n" for kind in ("2y", "2b", "2a")))
    with ServerProcess("--auth-file", str(path)) as server:
        for kind in ("2y", "2b", "2a"):
            ok = get(server, "/status", Authorization=basic(f"user{kind}", "same secret"))
            assert ok.status_code == 200, kind
            assert_challenged(get(server, "/status", Authorization=basic(f"user{kind}", "other")))


def htpasswd_b(path: Path, user: str, password: str, cost: int) -> str:
    """Add a user with Apache's ``htpasswd -B -C COST``; returns their hash."""
    tool = require_tool("htpasswd", "apache2-utils")
    create = [] if path.exists() else ["-c"]
    subprocess.run(
        [tool, "-B", "-C", str(cost), *create, "-b", str(path), user, password],
        check=True,
        capture_output=True,
    )
    return htpasswd.load(path)[user]


def test_a_file_htpasswd_wrote_at_cost_5_works(tmp_path: Path) -> None:
    path = tmp_path / "users"
    assert htpasswd_b(path, "erin", "cost five", 5).startswith("$2y$05$")
    with ServerProcess("--auth-file", str(path)) as server:
        assert get(server, "/status", Authorization=basic("erin", "cost five")).status_code == 200
        assert_challenged(get(server, "/status", Authorization=basic("erin", "cost six")))
        assert_challenged(get(server, "/status", Authorization=basic("frank", "cost five")))


@pytest.mark.parametrize("costs", [(5, 5), (5, 6), (6, 5)])
def test_an_unknown_user_costs_one_bcrypt_check_at_the_files_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, costs: tuple[int, int]
) -> None:
    """By logic, not by timing: which checks bcrypt runs, and at what cost. An
    unknown name must cost what a known name's wrong password costs (htpasswd -B
    writes cost 5), or the time to answer tells which user names exist."""
    import bcrypt  # noqa: PLC0415 - the test of an import-on-first-use module

    path = tmp_path / "users"
    htpasswd_b(path, "alice", "wonder land", costs[0])
    htpasswd_b(path, "bob", "builder", costs[1])
    auth = Auth.from_settings(Settings(auth_file=str(path)))
    assert auth is not None
    checked: list[int] = []
    real_checkpw = bcrypt.checkpw

    def checkpw(password: bytes, hashed: bytes) -> bool:
        result = real_checkpw(password, hashed)  # raises on a hash it cannot use
        checked.append(int(hashed[4:6]))
        return result

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    monkeypatch.setattr(bcrypt, "hashpw", None)  # nothing is hashed to answer a login
    for user in ("mallory", "", "alice2"):
        assert not auth.check_password(user, "wonder land")
        assert checked == [max(costs)], user
        checked.clear()
    assert not auth.check_password("alice", "wrong")
    assert not auth.check_password("bob", "wrong")
    assert checked == list(costs)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--auth-file", "/nonexistent/users"], "cannot read auth file /nonexistent/users"),
        (["--token", "short"], "at least 16 characters"),
        (["--token-file", "/nonexistent/tokens"], "cannot read token file"),
    ],
)
def test_unusable_credentials_are_one_line_errors(args: list[str], fragment: str) -> None:
    assert_one_line_error(run_cli([*args, "--port", "0"]), fragment)


def passwd(path: Path, user: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mjpeg_server", "passwd", str(path), user],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_passwd_writes_what_htpasswd_reads_and_the_server_accepts(tmp_path: Path) -> None:
    tool = require_tool("htpasswd", "apache2-utils")
    path = tmp_path / "users"
    added = passwd(path, "carol", "first pass")
    assert added.returncode == 0, added.stderr
    assert "added user 'carol'" in added.stdout
    subprocess.run([tool, "-B", "-b", str(path), "dave", "d"], check=True)
    changed = passwd(path, "carol", "second pass")
    assert "changed user 'carol'" in changed.stdout
    assert path.read_text().count("carol:$2y$") == 1
    # Apache's own tool verifies our entry; theirs stays as it was.
    verify = [tool, "-v", "-b", str(path)]
    assert subprocess.run([*verify, "carol", "second pass"], check=False).returncode == 0
    assert subprocess.run([*verify, "carol", "first pass"], check=False).returncode != 0
    assert subprocess.run([*verify, "dave", "d"], check=False).returncode == 0
    with ServerProcess("--auth-file", str(path)) as server:
        ok = get(server, "/status", Authorization=basic("carol", "second pass"))
        assert ok.status_code == 200
        assert_challenged(get(server, "/status", Authorization=basic("carol", "first pass")))


@pytest.mark.parametrize("user", ["", "a:b", "with space"])
def test_passwd_refuses_bad_user_names(tmp_path: Path, user: str) -> None:
    result = passwd(tmp_path / "users", user, "pw")
    assert result.returncode == 2
    assert "invalid user name" in result.stderr
    assert not (tmp_path / "users").exists()


def test_passwd_refuses_a_file_with_other_hash_kinds(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("old:$apr1$abc$def\n")
    result = passwd(path, "new", "pw")
    assert result.returncode == 2
    assert "Apache MD5" in result.stderr
    assert path.read_text() == "old:$apr1$abc$def\n"


def test_warning_when_listening_beyond_loopback_without_auth(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    warn_if_exposed(Settings(), "127.0.0.1", 8000)
    warn_if_exposed(Settings(tokens=(TOKEN,)), "0.0.0.0", 8000)
    assert not caplog.records
    warn_if_exposed(Settings(), "0.0.0.0", 8000)
    (record,) = caplog.records
    assert "0.0.0.0 without authentication" in record.getMessage()
    assert "\n" not in record.getMessage()
