"""Which files must never be sent to the model: secrets by name.

`is_secret_path` decides from the path alone (no I/O). The server refuses to run an action on
such a document, and never uses one as context. Built-in rules, on the file name, ignoring case:

* env files: `.env`, `.env.*`, `*.env` (`.env.local`, `prod.env`) and direnv's `.envrc`,
  except the templates meant to be committed: `.env.example`, `.env.sample`, `.env.template`,
  `.env.dist` (and the same suffixes after `*.env`, e.g. `prod.env.example`);
* keys and certificates bundles: `*.pem`, `*.key`, `*.p12`, `*.pfx`, `*.keystore`, `*.jks`;
* SSH private keys: `id_rsa`, `id_dsa`, `id_ecdsa`, `id_ed25519` (with `_sk` and name
  suffixes such as `id_ed25519_work`), any extension-less `id_*`, and every file in a `.ssh`
  directory except `*.pub`, `known_hosts*`, `authorized_keys*` and `config`; never `*.pub`;
* credential stores: `.netrc`, `_netrc`, `.npmrc`, `.pypirc`, `.pgpass`, `.git-credentials`,
  `.htpasswd`, `*credentials*.json`, AWS-style `credentials` files;
* `secrets.*` (`secrets.yaml`, `secrets.json`, ...) and `.secrets`.

`extra_patterns` (settings) are globs matched case-sensitively, with `/` separators, against
the file name, the full path and every trailing part of the path, so `config/prod.yaml` and
`private/*` match wherever the workspace root is. A `file://` URI is accepted as a path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from urllib.parse import unquote, urlsplit

_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist")
_KEY_EXTENSIONS = (".pem", ".key", ".p12", ".pfx", ".keystore", ".jks")
_CREDENTIAL_FILES = frozenset(
    {".netrc", "_netrc", ".npmrc", ".pypirc", ".pgpass", ".git-credentials", ".htpasswd"}
    | {".envrc", "credentials", ".secrets"}
)
_SSH_PUBLIC = ("known_hosts", "authorized_keys", "config")
_SSH_KEY = re.compile(r"id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?(?:[_\-.][\w\-.]*)?")


def _parts(path: str) -> list[str]:
    if path.startswith("file:"):
        path = unquote(urlsplit(path).path)
    return [part for part in path.replace("\\", "/").split("/") if part]


def _is_env_file(name: str) -> bool:
    if name.endswith(_TEMPLATE_SUFFIXES) and (".env." in name or name.startswith(".env.")):
        return False
    return name == ".env" or name.startswith(".env.") or name.endswith(".env")


def _is_ssh_key(name: str, parents: list[str]) -> bool:
    if name.endswith(".pub"):
        return False
    if _SSH_KEY.fullmatch(name) or (name.startswith("id_") and "." not in name):
        return True
    return ".ssh" in parents and not name.startswith(_SSH_PUBLIC)


def _builtin_secret(parts: list[str]) -> bool:
    name = parts[-1].lower()
    parents = [p.lower() for p in parts[:-1]]
    return (
        _is_env_file(name)
        or name.endswith(_KEY_EXTENSIONS)
        or _is_ssh_key(name, parents)
        or name in _CREDENTIAL_FILES
        or (name.endswith(".json") and "credentials" in name)
        or name.startswith("secrets.")
    )


def is_secret_path(path: str, extra_patterns: Sequence[str] = ()) -> bool:
    """True when the file at `path` (or `file://` URI) looks like it holds secrets."""
    parts = _parts(path)
    if not parts:
        return False
    if _builtin_secret(parts):
        return True
    if not extra_patterns:
        return False
    full = ("/" if path.startswith(("/", "file:")) else "") + "/".join(parts)
    candidates = {full, *("/".join(parts[i:]) for i in range(len(parts)))}
    return any(fnmatchcase(c, pattern) for pattern in extra_patterns for c in candidates)
