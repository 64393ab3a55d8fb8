"""Apache htpasswd files with bcrypt entries (what ``--auth-file`` reads), and
``mjpeg-server passwd FILE USER``, which writes them without apache2-utils
(:data:`HELP` says how to use it)."""

from __future__ import annotations

import argparse
import getpass
import re
import sys
from pathlib import Path

from .._files import write_atomically
from ..config import ConfigError

__all__ = [
    "BCRYPT_PREFIXES",
    "HELP",
    "add_arguments",
    "cost",
    "hash_password",
    "load",
    "parse",
    "run",
    "verify",
]

#: ``mjpeg-server passwd --help``.
HELP = """\
Add or change a user's password in an htpasswd file (bcrypt, as htpasswd -B
writes it), without apache2-utils. The password is asked twice at a terminal,
or read as one line from standard input:

  mjpeg-server passwd /etc/mjpeg-server/users alice
  printf '%s\\n' "$PASSWORD" | mjpeg-server passwd users alice

The server reads the file with --auth-file FILE; restart it to load changes."""

#: bcrypt as htpasswd -B writes it ($2y$), as Python's bcrypt writes it ($2b$),
#: and the older $2a$: all three check the same way.
BCRYPT_PREFIXES = ("$2y$", "$2b$", "$2a$")
#: bcrypt reads only this many bytes of a password; htpasswd ignores the rest too.
BCRYPT_MAX_BYTES = 72
#: htpasswd -B uses 5; each step doubles the work. 10 takes tens of milliseconds
#: on a Pi 4, and the server remembers a verified password (server/auth.py).
DEFAULT_COST = 10

#: A whole bcrypt hash: its prefix, a two-digit cost, then 22 characters of salt and
#: 31 of digest in bcrypt's base64.
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")

_OTHER_KINDS = (
    ("$apr1$", "Apache MD5 ($apr1$)"),
    ("{SHA}", "SHA-1 ({SHA})"),
    ("$1$", "MD5-crypt ($1$)"),
    ("$5$", "SHA-256-crypt ($5$)"),
    ("$6$", "SHA-512-crypt ($6$)"),
)


def _kind(hashed: str) -> str:
    for prefix, name in _OTHER_KINDS:
        if hashed.startswith(prefix):
            return name
    return "crypt() or plain text"


def parse(text: str, source: str) -> dict[str, str]:
    """``user → bcrypt hash`` from htpasswd lines; blank lines and ``#`` comments
    are skipped. Any entry that is not bcrypt is refused with one line naming it,
    because the weaker kinds can be cracked from a leaked file."""
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed:
            raise ConfigError(f"{source} line {number}: expected USER:HASH")
        if not hashed.startswith(BCRYPT_PREFIXES):
            raise ConfigError(
                f"{source} line {number}: user {user!r} has a {_kind(hashed)} hash; only "
                "bcrypt is accepted: set it again with 'mjpeg-server passwd' or 'htpasswd -B'"
            )
        if not _BCRYPT.fullmatch(hashed):
            # Refused rather than left to match nothing: cost() and the dummy check
            # for unknown users (server/auth.py) need a whole hash.
            raise ConfigError(
                f"{source} line {number}: user {user!r} has a damaged bcrypt hash: set it "
                "again with 'mjpeg-server passwd' or 'htpasswd -B'"
            )
        users[user] = hashed
    return users


def cost(hashed: str) -> int:
    """The cost of a bcrypt hash :func:`parse` accepted: ``$2y$05$…`` is 5."""
    return int(hashed[4:6])


def load(path: Path) -> dict[str, str]:
    """The users of an htpasswd file; :class:`ConfigError` if it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(f"cannot read auth file {path}: {reason}") from None
    users = parse(text, f"auth file {path}")
    if not users:
        raise ConfigError(f"auth file {path} has no users: add one with 'mjpeg-server passwd'")
    return users


def _password_bytes(password: str) -> bytes:
    return password.encode("utf-8")[:BCRYPT_MAX_BYTES]


def verify(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a bcrypt ``hashed`` (constant time in bcrypt)."""
    # Imported here: only a server with an auth file pays for it (idle memory budget).
    import bcrypt  # noqa: PLC0415

    try:
        return bcrypt.checkpw(_password_bytes(password), hashed.encode("ascii"))
    except ValueError:  # a damaged hash: it matches nothing
        return False


def hash_password(password: str, cost: int = DEFAULT_COST) -> str:
    """A bcrypt hash as ``htpasswd -B`` writes it (``$2y$``, which Apache reads too)."""
    import bcrypt  # noqa: PLC0415

    hashed = bcrypt.hashpw(_password_bytes(password), bcrypt.gensalt(cost)).decode("ascii")
    return "$2y$" + hashed.removeprefix("$2b$")


def set_password(path: Path, user: str, password: str, cost: int = DEFAULT_COST) -> bool:
    """Add ``user`` to ``path`` or change their password; True if they were new.

    Other lines, comments included, stay as they were; the file is replaced
    atomically, so a server reading it never sees half of it.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    entry = f"{user}:{hash_password(password, cost)}"
    new = True
    for index, line in enumerate(lines):
        if line.strip().partition(":")[0] == user:
            lines[index] = entry
            new = False
    if new:
        lines.append(entry)
    write_atomically(path, "\n".join(lines) + "\n")
    return new


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", type=Path, help="the htpasswd file (created)")
    parser.add_argument("user", metavar="USER", help="the user name to add or change")
    parser.add_argument(
        "--cost",
        type=int,
        default=DEFAULT_COST,
        choices=range(4, 18),
        metavar="4-17",
        help="bcrypt cost: each step doubles the time to check (default %(default)s)",
    )


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace) -> int:
    user: str = args.user
    if not user or ":" in user or any(c.isspace() for c in user):
        print(f"mjpeg-server passwd: error: invalid user name {user!r}", file=sys.stderr)
        return 2
    try:
        password = _read_password()
        if not password:
            raise ConfigError("empty password")
        if args.file.exists():
            # Refuse to add to a file the server would refuse anyway.
            parse(args.file.read_text(encoding="utf-8"), f"auth file {args.file}")
        new = set_password(args.file, user, password, args.cost)
    except (ConfigError, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        print(f"mjpeg-server passwd: error: {reason}", file=sys.stderr)
        return 2
    print(f"{'added' if new else 'changed'} user {user!r} in {args.file}")
    return 0
