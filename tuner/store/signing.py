"""What this user wrote, told apart from what anyone else could have: an HMAC-SHA256 of a stored record with a key
only this user can read.

A runs directory is shared (teammates, `tune pull`, copies handed around), and some of what is stored there
decides what runs: a sweep's journal header names the script, the command template, the working directory, the
grid whose values fill the template, the cluster to join; a submission record names the cluster and the project
to upload. `tune resume` runs what they say. Such a record is signed when tuner writes it, with a random 32-byte
key kept 0600 in the user's cache folder (workers.files.private_cache_dir: this user's, changeable by nobody
else); a record whose signature does not check out with that key is shown and asked about before it runs
(tuner.sweep.resume). The key never leaves the machine (or the home folder it is on) and proves nothing to
anyone else: it only answers "did I write this?".

The signature covers the record's JSON text as workers.files.dumps_json writes it, without the `signature` field
itself; reading a record back and writing it again gives the same text (key order, float reprs), so the check
re-serialises what was read. hmac and hashlib are imported when a record is signed or checked: `import tuner`
(every trial, every `tune ls`) does not pay for them.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any, Callable

from workers.files import cache_dir, dumps_json, private_cache_dir

KEY_FILE = "signing.key"
KEY_BYTES = 32
SIGNATURE = "signature"


class Verdict(enum.Enum):
    """What a record's signature says about who wrote it."""

    MINE = "signed by this user"
    UNSIGNED = "not signed (written by a tuner older than signatures, or its signature was removed)"
    OTHER_KEY = "signed with another key (another user's, or this user's under another home folder)"
    ALTERED = "changed after it was signed"
    NO_KEY = "not checked: this user has no usable signing key"

    @property
    def trusted(self) -> bool:
        return self is Verdict.MINE


@dataclass(frozen=True)
class Signer:
    """This user's key (None when there is none to use, `problem` says why)."""

    key: bytes | None
    problem: str | None = None

    @classmethod
    def for_user(cls, create: bool = True) -> Signer:
        """The key in the user's cache folder, made there the first time (`create`)."""
        try:
            folder = private_cache_dir() if create else cache_dir()
        except OSError as exc:
            return cls(None, f"the cache folder is not private: {exc.strerror}")
        path = os.path.join(folder, KEY_FILE)
        for _attempt in range(2):
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
            except FileNotFoundError:
                if not create:
                    return cls(None, f"no key yet ({path})")
                _make_key(path)
                continue
            except OSError as exc:
                return cls(None, f"{path}: {exc.strerror}")
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                key = handle.read(KEY_BYTES + 1)
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                return cls(None, f"{path} is not this user's alone (mode {st.st_mode & 0o777:o}); remove it and a new "
                                 "key is made (what the old one signed is then asked about once)")
            if len(key) != KEY_BYTES:
                return cls(None, f"{path} is damaged; remove it and a new key is made")
            return cls(key)
        return cls(None, f"{path} could not be made")

    @property
    def key_id(self) -> str | None:
        """A name of the key that gives nothing of it away (its sha256, shortened): which key signed a record."""
        if self.key is None:
            return None
        import hashlib

        return hashlib.sha256(b"tuner key id\0" + self.key).hexdigest()[:16]

    def _mac(self, text: str) -> str:
        import hashlib
        import hmac

        assert self.key is not None
        return hmac.new(self.key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def signature(self, text: str) -> dict[str, str] | None:
        """The signature of a record's JSON text (None without a key: the record is written unsigned)."""
        if self.key is None:
            return None
        return {"key": str(self.key_id), "hmac": self._mac(text)}

    def signed_text(self, record: dict[str, Any]) -> str:
        """`record` as one line of JSON with its signature as the last field (unsigned without a key)."""
        text = dumps_json(record)
        signature = self.signature(text)
        if signature is None:
            return text
        return text[:-1] + (", " if len(text) > 2 else "") + f'"{SIGNATURE}": {dumps_json(signature)}}}'

    def verdict(self, record: dict[str, Any]) -> Verdict:
        """Who wrote `record` (as read back from its JSON), by its `signature` field."""
        signature = record.get(SIGNATURE)
        if not isinstance(signature, dict) or not isinstance(signature.get("hmac"), str):
            return Verdict.UNSIGNED
        if self.key is None:
            return Verdict.NO_KEY
        if signature.get("key") != self.key_id:
            return Verdict.OTHER_KEY
        import hmac

        text = dumps_json({k: v for k, v in record.items() if k != SIGNATURE})
        return Verdict.MINE if hmac.compare_digest(self._mac(text), signature["hmac"]) else Verdict.ALTERED


def _make_key(path: str) -> None:
    """A new random key at `path`, 0600, written whole before it appears there (a link of a finished temp file):
    two processes making it at once both end up reading the one that won."""
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)


def require_trust(verdict: Verdict, subject: str, shown: list[str], run_hint: str,
                  trust: bool | Callable[[str, bool], bool] | None) -> None:
    """Go on only with a record this user signed, or one a person accepted: `trust` True (`--yes`) accepts; None
    puts `shown` (what would run, quoted) and the question to whoever renders the channel (tuner.channel: a person
    at a terminal), a callable(question, default) answers it instead; without an answer, or with `trust` False,
    raises UntrustedError, one line naming what would run and `run_hint` (the command with --yes)."""
    from tuner.errors import UntrustedError

    if verdict.trusted or trust is True:
        return
    if trust is not False:
        from tuner import channel

        question = (f"{subject} is {verdict.value}; what it would run:\n" + "\n".join(f"  {line}" for line in shown)
                    + "\nRun it?")
        answer = trust(question, False) if callable(trust) else channel.ask(question, False)
        if answer is not None:
            if answer:
                return
            raise UntrustedError(f"{subject}: nothing was run")
    summary = "; ".join(_cut(line) for line in shown[:2])
    raise UntrustedError(f"{subject} is {verdict.value}, and there is no terminal to ask on; it would run {summary}; "
                         f"look at it, then `{run_hint}` to run it anyway")


def _cut(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
