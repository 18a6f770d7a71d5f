"""``wiflab idp jwks``, ``wiflab mint`` and ``wiflab idp keys``, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import jwt

from tests.idp_server.helpers import ADMIN_SECRET, TOKEN_SECRET, Idp
from wiflab_core.keys import generate


def wiflab(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    return subprocess.run(
        [sys.executable, "-m", "wiflab.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_jwks_prints_the_public_keys_of_a_key_file(tmp_path: Path) -> None:
    keys = [generate("RS256"), generate("ES256")]
    key_file = tmp_path / "keys.pem"
    key_file.write_text("".join(k.private_pem() for k in keys))
    result = wiflab("idp", "jwks", "--key-file", str(key_file))
    assert result.returncode == 0, result.stderr
    jwks = json.loads(result.stdout)
    assert [k["kid"] for k in jwks["keys"]] == [k.kid for k in keys]
    assert all("d" not in k for k in jwks["keys"])


def test_jwks_reads_the_key_source_from_the_environment() -> None:
    key = generate("RS256")
    result = wiflab("idp", "jwks", IDP_SIGNING_KEYS=key.private_pem())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["keys"][0]["kid"] == key.kid


def test_jwks_without_keys_or_with_a_bad_file_says_what_to_do(tmp_path: Path) -> None:
    nothing = wiflab("idp", "jwks")
    assert nothing.returncode == 2 and "--key-file" in nothing.stderr
    assert "openssl genpkey" in nothing.stderr
    (tmp_path / "bad.pem").write_text("not a key")
    bad = wiflab("idp", "jwks", "--key-file", str(tmp_path / "bad.pem"))
    assert bad.returncode == 2 and "no PEM private key" in bad.stderr
    missing = wiflab("idp", "jwks", "--key-file", str(tmp_path / "missing.pem"))
    assert missing.returncode == 2 and "--key-file: cannot read" in missing.stderr


def test_mint_prints_a_token_that_verifies(idp: Idp) -> None:
    claims = {"sub": "alice", "aud": "aud-1"}
    result = wiflab(
        "mint", "--issuer-url", idp.url, "--claims", json.dumps(claims), "--alg", "ES256"
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert idp.verify(token)["sub"] == "alice"


def test_mint_sends_the_token_secret_from_the_environment(serve_idp: Callable[..., Idp]) -> None:
    idp = serve_idp(token_secret=TOKEN_SECRET)
    args = ("mint", "--issuer-url", idp.url, "--claims", '{"sub": "a", "aud": "aud-1"}')
    refused = wiflab(*args)
    assert refused.returncode == 1 and "401 unauthorized" in refused.stderr
    assert TOKEN_SECRET not in refused.stderr
    accepted = wiflab(*args, IDP_TOKEN_SECRET=TOKEN_SECRET)
    assert accepted.returncode == 0 and idp.verify(accepted.stdout.strip())["sub"] == "a"


def test_mint_reports_the_idps_error(idp: Idp) -> None:
    result = wiflab("mint", "--issuer-url", idp.url, "--claims", '{"iat": "soon"}')
    assert result.returncode == 1 and "invalid_request: iat:" in result.stderr


def test_keys_commands_rotate_a_running_idp(idp: Idp) -> None:
    url = ("--issuer-url", idp.url)
    added = wiflab(
        "idp",
        "keys",
        "add",
        *url,
        "--alg",
        "ES256",
        "--activate",
        **{"IDP_ADMIN_SECRET": ADMIN_SECRET},
    )
    assert added.returncode == 0, added.stderr
    kid = added.stdout.split()[1]
    assert f"{kid}  ES256  active" in added.stdout
    assert jwt.get_unverified_header(idp.mint({"sub": "a"}))["kid"] == kid
    old = next(k for k in idp.kids() if k != kid)
    retired = wiflab("idp", "keys", "retire", *url, old, IDP_ADMIN_SECRET=ADMIN_SECRET)
    assert retired.returncode == 0 and f"{old}  RS256  retired" in retired.stdout
    listed = wiflab("idp", "keys", "list", *url, IDP_ADMIN_SECRET=ADMIN_SECRET)
    assert listed.stdout.count("\n") == 3
    refused = wiflab("idp", "keys", "list", *url)
    assert refused.returncode == 1 and "401" in refused.stderr
