"""The local CA: owner-only key, made again when missing, and name constraints that make any
certificate it signs for another name fail verification (so trusting it trusts nothing else)."""

from __future__ import annotations

import datetime
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from hypothesis import given
from hypothesis import strategies as st

from wiflab_lab.intercept.ca import LocalCA, NotPermitted, permits, sign_leaf
from wiflab_lab.intercept.routes import AWS_STS_HOSTS


# Certificates here are checked at the time they were made (no time boundary is tested with it).
def _now() -> datetime.datetime:
    """The real time when asked (the CA dates its leaves by it; a module-level constant goes stale
    when the module is imported minutes before a test runs)."""
    return datetime.datetime.now(datetime.UTC)


SERVED = [
    "sts.googleapis.com",
    "iamcredentials.googleapis.com",
    "oauth2.googleapis.com",
    "www.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "accounts.google.com",
    "hello-abcdefghij-uc.a.run.app",
    "metadata.google.internal",
]
NOT_SERVED = [
    "example.com",
    "google.com",
    "www.google.com",
    "mail.google.com",
    "googleapis.com.evil.example",
    "evilgoogleapis.com",
    "notrun.app.example",
    "github.com",
]


@pytest.fixture
def ca(tmp_path: Path) -> LocalCA:
    return LocalCA.load_or_create(tmp_path / "intercept")


def verify(ca: LocalCA, leaf: x509.Certificate, host: str) -> None:
    """cryptography's RFC 5280 path validation of ``leaf`` for ``host`` under the CA alone."""
    verifier = (
        PolicyBuilder()
        .store(Store([ca.certificate]))
        .time(_now() + datetime.timedelta(minutes=1))
        .build_server_verifier(x509.DNSName(host))
    )
    verifier.verify(leaf, [])


def test_the_key_is_owner_only_and_the_certificate_public(ca: LocalCA, tmp_path: Path) -> None:
    key = tmp_path / "intercept" / "ca-key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca.cert_file.stat().st_mode) == 0o644
    assert b"PRIVATE KEY" not in ca.cert_file.read_bytes()


def test_the_same_ca_is_loaded_again_and_a_missing_key_makes_a_new_one(tmp_path: Path) -> None:
    directory = tmp_path / "intercept"
    first = LocalCA.load_or_create(directory)
    assert LocalCA.load_or_create(directory).certificate == first.certificate
    (directory / "ca-key.pem").unlink()
    again = LocalCA.load_or_create(directory)
    assert again.certificate != first.certificate
    assert (directory / "ca-key.pem").exists()


def test_a_corrupt_pair_is_replaced(tmp_path: Path) -> None:
    directory = tmp_path / "intercept"
    first = LocalCA.load_or_create(directory)
    (directory / "ca-key.pem").write_text("not a key")
    assert LocalCA.load_or_create(directory).certificate != first.certificate


def test_the_name_constraints_are_critical_and_list_only_what_wiflab_serves(ca: LocalCA) -> None:
    extension = ca.certificate.extensions.get_extension_for_class(x509.NameConstraints)
    assert extension.critical
    permitted = {str(n.value) for n in extension.value.permitted_subtrees or []}
    assert permitted == {
        "googleapis.com",
        "accounts.google.com",
        "run.app",
        "metadata.google.internal",
        "token.actions.githubusercontent.com",
        "gitlab.com",
        "169.254.169.254/32",
        # AWS STS's hosts, each by name (issue 15; tests/aws_side/test_intercept.py).
        "sts.amazonaws.com",
        "sts.us-east-1.amazonaws.com",
        "sts.eu-west-3.amazonaws.com",
    } | {n for n in permitted if n.startswith("sts.") and n.endswith(".amazonaws.com")}
    assert len(permitted) == 8 + 34
    assert extension.value.excluded_subtrees is None
    basic = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0


@pytest.mark.parametrize("host", SERVED)
def test_a_leaf_for_a_served_host_verifies_for_that_host_only(ca: LocalCA, host: str) -> None:
    leaf = ca.leaf(host).certificate
    verify(ca, leaf, host)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [host]
    with pytest.raises(VerificationError):
        verify(ca, leaf, "other.example.com")


@pytest.mark.parametrize("host", NOT_SERVED)
def test_no_leaf_is_made_for_other_hosts(ca: LocalCA, host: str) -> None:
    with pytest.raises(NotPermitted, match="outside the local CA's name constraints"):
        ca.leaf(host)


@pytest.mark.parametrize("host", NOT_SERVED)
def test_a_leaf_signed_anyway_for_another_host_does_not_verify(ca: LocalCA, host: str) -> None:
    """Even with the CA key in hand, a certificate for example.com fails validation."""
    forged = sign_leaf(
        ca.certificate, ca._key, ec.generate_private_key(ec.SECP256R1()), host, _now()
    )
    with pytest.raises(VerificationError):
        verify(ca, forged, host)


def test_openssl_refuses_a_forged_leaf_and_accepts_a_served_one(
    ca: LocalCA, tmp_path: Path
) -> None:
    def openssl_verify(cert: x509.Certificate, name: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / f"{name}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return subprocess.run(
            ["openssl", "verify", "-CAfile", str(ca.cert_file), str(path)],
            capture_output=True,
            text=True,
            check=False,
        )

    now = datetime.datetime.now(datetime.UTC)
    forged = sign_leaf(
        ca.certificate, ca._key, ec.generate_private_key(ec.SECP256R1()), "example.com", now
    )
    refused = openssl_verify(forged, "forged")
    assert refused.returncode != 0
    assert "permitted subtree violation" in refused.stdout + refused.stderr
    assert openssl_verify(ca.leaf("sts.googleapis.com").certificate, "sts").returncode == 0


def test_leaves_are_short_lived_cached_and_renewed_near_their_end(tmp_path: Path) -> None:
    start = _now()
    now = [start]
    loaded = LocalCA.load_or_create(tmp_path / "intercept")
    ca = LocalCA(loaded.certificate, loaded._key, loaded.cert_file, clock=lambda: now[0])
    leaf = ca.leaf("sts.googleapis.com")
    lifetime = leaf.certificate.not_valid_after_utc - leaf.certificate.not_valid_before_utc
    assert lifetime <= datetime.timedelta(hours=24, minutes=5)
    assert ca.leaf("STS.googleapis.com.") is leaf
    now[0] = start + datetime.timedelta(hours=22, minutes=59)
    assert ca.leaf("sts.googleapis.com") is leaf
    now[0] = start + datetime.timedelta(hours=23, minutes=1)
    renewed = ca.leaf("sts.googleapis.com")
    assert renewed is not leaf
    assert renewed.certificate.not_valid_after_utc > leaf.certificate.not_valid_after_utc


def test_the_metadata_ip_is_permitted_and_no_other_address(ca: LocalCA) -> None:
    assert permits("169.254.169.254")
    assert not permits("169.254.169.253")
    assert not permits("127.0.0.1")
    assert not permits("::1")


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.lists(_label, min_size=1, max_size=4), st.sampled_from(["com", "net", "app", "org"]))
def test_only_names_under_a_permitted_subtree_are_permitted(labels: list[str], tld: str) -> None:
    host = ".".join([*labels, tld])
    under = any(
        host == base or host.endswith("." + base)
        for base in (
            "googleapis.com",
            "accounts.google.com",
            "run.app",
            "metadata.google.internal",
            "token.actions.githubusercontent.com",
            "gitlab.com",
        )
    ) or any(host == aws or host.endswith("." + aws) for aws in AWS_STS_HOSTS)
    assert permits(host) == under
    # A served name glued to another label is not under it.
    assert not permits(f"{labels[0]}googleapis.com.{tld}x")


def test_no_ca_key_is_tracked_by_git() -> None:
    root = Path(__file__).resolve().parents[2]
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [p for p in tracked if p.endswith(("ca-key.pem", "ca.pem"))]
