"""What looks like a secret, so it stays out of runs: files the source snapshot and the artifact scan skip (and
pages never show), and the credentials in a URI that is stored or printed.

A run folder is shared: pages are sent around, runs are pulled from clusters, copied, exported to MLflow. A
project folder holds `.env` files, keys and `config.ini`s with database passwords next to train.py, and the
snapshot used to copy every `*.json`/`*.ini` it found into every run. The rule, by name (settings
`secret_files`, glob patterns matched case-insensitively against the file's name and its path in the folder)
and, for configuration files (.ini, .cfg, .conf, .toml, .yml, .yaml, .json, .properties, .env), by content: a
key such as `password`, `secret`, `api_key`, `access_token` with a value (setting `secret_keys`). Both are lists
a project can change in its tuner.yml; an empty list turns that half off.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Iterable

#: setting `secret_files`: names that hold credentials (ssh keys by their usual names: a bare `id_*` would take
#: `id_utils.py` too)
SECRET_FILES = (".env", ".env.*", "*.env", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*",
                "id_ecdsa*", "id_ed25519*", "*secret*", "*credential*", ".netrc", "_netrc", ".pgpass", ".pypirc",
                ".npmrc", ".htpasswd")
#: setting `secret_keys`: a configuration file with one of these keys (or a key ending in one, `db_password`)
#: holding a value is a secret file
SECRET_KEYS = ("password", "passwd", "passphrase", "secret", "secret_key", "client_secret", "api_key", "apikey",
               "access_key", "private_key", "auth_token", "access_token", "api_token", "refresh_token")
#: the files read for keys: configuration formats (a script's source is never read for them)
CONFIG_SUFFIXES = (".ini", ".cfg", ".conf", ".cnf", ".toml", ".yml", ".yaml", ".json", ".properties", ".env")
#: how much of a configuration file is read for keys
CONFIG_READ_BYTES = 256 * 1024


@dataclass(frozen=True)
class SecretRule:
    """Whether a file looks like a secret: by its name (`files`) or, for configuration files, a key (`keys`)."""

    files: tuple[str, ...] = SECRET_FILES
    keys: tuple[str, ...] = SECRET_KEYS
    _key_line: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _lower: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lower", tuple(p.lower() for p in self.files))
        if self.keys:
            words = "|".join(re.escape(k.lower()) for k in sorted(set(self.keys), key=len, reverse=True))
            # `key = value`, `key: value`, `"key": "value"` (also inside `{...}` on one line), `export KEY=value`,
            # the key alone or ending in one of the words after _ . - (`db_password`); a value that is there:
            # not empty, not `""`, not null
            pattern = (r"""(?:^|[{,])[ \t]*(?:export[ \t]+)?["']?(?:[\w.-]*[_.-])?(?:""" + words
                       + r""")["']?[ \t]*[:=][ \t]*(?!["']{2})(?!null\b|none\b|~)[^\s,}#;]""")
            object.__setattr__(self, "_key_line", re.compile(pattern, re.IGNORECASE | re.MULTILINE))

    @classmethod
    def from_settings(cls, settings: object) -> "SecretRule":
        return cls(tuple(getattr(settings, "secret_files", SECRET_FILES)),
                   tuple(getattr(settings, "secret_keys", SECRET_KEYS)))

    def name_matches(self, rel_path: str) -> bool:
        """The file's name or its relative path matches a `files` pattern (case-insensitive)."""
        path = rel_path.replace(os.sep, "/").lower()
        name = path.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(path, p) for p in self._lower)

    def text_has_key(self, text: str) -> bool:
        return self._key_line is not None and self._key_line.search(text) is not None

    def is_secret(self, rel_path: str, path: str | None = None) -> bool:
        """`rel_path` (as shown) looks like a secret; `path`, where it can be read, is read if a configuration
        file (the first CONFIG_READ_BYTES)."""
        if self.name_matches(rel_path):
            return True
        if path is None or self._key_line is None or not rel_path.lower().endswith(CONFIG_SUFFIXES):
            return False
        try:
            with open(path, "rb") as handle:
                text = handle.read(CONFIG_READ_BYTES).decode("utf-8", errors="replace")
        except OSError:
            return False
        return self.text_has_key(text)

    def keep(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """(relative path, path) pairs without the secret ones."""
        return [(rel, path) for rel, path in items if not self.is_secret(rel, path)]


DEFAULT_RULE = SecretRule()

_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:?#]*)(?::(?P<password>[^/@?#]*))?@")
_SECRET_QUERY = re.compile(r"([?&;](?:[\w.-]*?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|"
                           r"signature|sig|auth))=)[^&;#]*", re.IGNORECASE)


def redact_uri(uri: object) -> str:
    """`uri` with its credentials replaced by `***`: the password of `scheme://user:password@host` (the user
    name stays, so the store is still recognisable) and the values of query parameters such as `token=` or
    `password=`. Anything else is returned as it was (a value that is not text, as text: a record's damaged field)."""
    if not isinstance(uri, str):
        return str(uri)
    text = _USERINFO.sub(lambda m: m.group("scheme") + m.group("user") + (":***" if m.group("password") is not None
                                                                           else "") + "@", uri, count=1)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + "***", text)
