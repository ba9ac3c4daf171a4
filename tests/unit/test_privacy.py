"""Secrets by file name: documents the server refuses to send to the model.

Each row is a path and whether it must be kept away from the model. Templates meant to be
committed (`.env.example` and friends) and public keys are not secrets.
"""

from __future__ import annotations

import pytest

from responses_lsp.actions.privacy import is_secret_path

SECRET = [
    # env files
    ".env",
    "/work/app/.env",
    "/work/app/.env.local",
    "/work/app/.env.production",
    "deploy/prod.env",
    "/work/app/.envrc",
    "C:\\Users\\me\\app\\.ENV",
    # keys and certificate bundles
    "certs/server.pem",
    "certs/server.key",
    "certs/client.p12",
    "certs/client.pfx",
    "android/release.keystore",
    "android/release.jks",
    # SSH private keys
    "/home/me/.ssh/id_rsa",
    "/home/me/.ssh/id_ed25519",
    "/home/me/.ssh/id_ecdsa",
    "/home/me/.ssh/id_ed25519_sk",
    "keys/id_rsa_work",
    "keys/id_github",
    "/home/me/.ssh/deploy_key",
    # credential stores
    "/home/me/.netrc",
    "C:\\Users\\me\\_netrc",
    "/home/me/.npmrc",
    "/home/me/.pypirc",
    "/home/me/.pgpass",
    "/home/me/.git-credentials",
    "/home/me/.aws/credentials",
    "credentials.json",
    "config/credentials-prod.json",
    "gcp/service-credentials.json",
    # secrets files
    "config/secrets.yaml",
    "secrets.json",
    "app/secrets.toml",
    ".secrets",
    # URIs, as the server receives them
    "file:///work/app/.env",
    "file:///home/me/.ssh/id_rsa",
    "file:///c%3A/work/app/.env.local",
]

NOT_SECRET = [
    ".env.example",
    "/work/app/.env.sample",
    "/work/app/.env.template",
    "/work/app/.env.dist",
    "deploy/prod.env.example",
    "src/environment.ts",
    "docs/env.md",
    "/home/me/.ssh/id_rsa.pub",
    "/home/me/.ssh/id_ed25519.pub",
    "/home/me/.ssh/known_hosts",
    "/home/me/.ssh/config",
    "/home/me/.ssh/authorized_keys",
    "src/id_utils.py",
    "src/keyboard.py",
    "src/keys.py",
    "src/credentials.py",
    "src/my_secrets_manager.py",
    "tests/test_secrets.py",
    "README.md",
    "server/responses_lsp/settings.py",
    "untitled:Untitled-1",
    "",
]


@pytest.mark.parametrize("path", SECRET)
def test_secret_files_are_never_sent(path: str) -> None:
    assert is_secret_path(path)


@pytest.mark.parametrize("path", NOT_SECRET)
def test_ordinary_files_and_committed_templates_are_sent(path: str) -> None:
    assert not is_secret_path(path)


@pytest.mark.parametrize(
    ("path", "patterns", "expected"),
    [
        ("/work/app/config/prod.yaml", ["prod.yaml"], True),  # the file name
        ("/work/app/config/prod.yaml", ["*.yaml"], True),
        ("/work/app/config/prod.yaml", ["config/prod.yaml"], True),  # a trailing part of the path
        ("/work/app/config/prod.yaml", ["config/*"], True),
        ("/work/app/config/prod.yaml", ["/work/app/*"], True),  # the full path
        ("/work/app/config/prod.yaml", ["*/private/*"], False),
        ("/work/app/private/notes.txt", ["private/*"], True),
        ("C:\\work\\app\\private\\notes.txt", ["private/*"], True),  # Windows separators
        ("/work/app/config/prod.yaml", ["PROD.yaml"], False),  # globs are case-sensitive
        ("/work/app/config/prod.yaml", [], False),
        ("/work/app/.env", [], True),  # the built-in rules always apply
    ],
)
def test_extra_patterns_are_globs_on_name_and_path(
    path: str, patterns: list[str], expected: bool
) -> None:
    assert is_secret_path(path, patterns) == expected
