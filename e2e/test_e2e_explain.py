"""``wiflab explain`` says what the running chain then does: for each fake user, its verdict on
the config's exchange and impersonation equals google-auth's own refresh through the stand-in
(or Google), and a refusal it shows carries the text Google answers."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest
from google.auth import exceptions
from google.auth.transport.requests import Request

from e2e.names import FEDERATED_SA, LAB_PROVIDER
from wiflab.cli import main
from wiflab_lab.testing import credentials_from_info


def explain_json(*args: str) -> tuple[int, list[dict]]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["explain", "--json", *args])
    assert status in (0, 1), err.getvalue()
    return status, json.loads(out.getvalue())


@pytest.mark.parametrize("profile", ["alice", "bob", "dave"])
def test_explain_agrees_with_the_real_exchange(
    wif_stack, external_account_info, tmp_path, profile
) -> None:
    account = wif_stack.account(FEDERATED_SA)
    info = external_account_info(LAB_PROVIDER, "file", FEDERATED_SA, profile=profile)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(info))
    endpoints = wif_stack.endpoints.write(tmp_path / "endpoints.json")

    _, paths = explain_json("--endpoints", str(endpoints), str(config))
    ours = [p for p in paths if p["section"].startswith(f"STS exchange at {LAB_PROVIDER}")]
    impersonation = next(
        (p for p in ours if p["path"] == f"act as {account} (generateAccessToken)"), ours[0]
    )
    said_allowed = impersonation["outcome"] == "allowed"
    refusal = next(
        (d["refusal"] for d in impersonation["decisions"] if d["outcome"] == "refused"), None
    )

    credentials = credentials_from_info(info)
    try:
        credentials.refresh(Request())
    except (exceptions.RefreshError, exceptions.OAuthError) as error:
        assert not said_allowed, f"explain said allowed, google-auth: {error}"
        answered = " ".join(str(part) for part in error.args)  # Google's body, unescaped
        assert refusal is not None and refusal["text"] in answered
    else:
        assert said_allowed, f"explain said refused ({refusal}), google-auth got a token"
    # alice passes, bob fails the condition (STS), dave has no binding (IAM Credentials).
    expected = {"alice": None, "bob": "sts", "dave": "iamcredentials"}[profile]
    refused_by = next(
        (d["service"] for d in impersonation["decisions"] if d["outcome"] == "refused"), None
    )
    assert refused_by == expected
