"""The local AWS STS: GetCallerIdentity verifications/s beside a bare SigV4 HMAC chain's.

A request is signed once (botocore, for ``sts.us-east-1.amazonaws.com``) and verified again
and again, in this process: by ``aws_side.sigv4.verify`` (the Authorization header parsed,
the date window, the scope, the key and token looked up, the signature recomputed with
botocore's ``SigV4Auth`` on the rebuilt request, compared in constant time, every check
recorded), and by ``aws_side.sts.answer`` (that and AWS's XML). The reference, timed in the
same run: the bare HMAC chain a verification cannot do without (the signing key's four HMACs,
the canonical request's SHA-256, the signature's HMAC, ``compare_digest``), and botocore's
signer alone on a prebuilt request. Then the STS part under gunicorn (one gthread worker, as
the stack runs it), driven by wrk over loopback: answers/s, against ``answer`` in-process.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from aws_side.identities import Identity, IdentitySpec, make_identities
from aws_side.settings import AwsSettings
from aws_side.sigv4 import SignedRequest, verify
from aws_side.sts import answer
from bench.idp_tokens import wrk_rate
from wiflab_core.serving import GunicornProcess

ARN = "arn:aws:sts::111122223333:assumed-role/ec2-role/i-0abc"
HOST = "sts.us-east-1.amazonaws.com"
FORM = "Action=GetCallerIdentity&Version=2011-06-15"


def rate(work: Callable[[], object], seconds: float = 1.5) -> float:
    """Calls/s of ``work`` on one core."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            work()
        done += 50
    return done / elapsed


def signed(identity: Identity) -> dict[str, str]:
    credentials = Credentials(
        identity.access_key_id, identity.secret_access_key, identity.session_token
    )
    request = AWSRequest(
        method="POST",
        url=f"https://{HOST}/",
        data=FORM.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(credentials, "sts", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    headers["Host"] = HOST
    return headers


def bare_hmac_chain(secret: str, stamp: str, canonical: str, sent: str) -> Callable[[], bool]:
    scope = f"{stamp[:8]}/us-east-1/sts/aws4_request"

    def chain() -> bool:
        key = f"AWS4{secret}".encode()
        for part in (stamp[:8], "us-east-1", "sts", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.encode(), sent.encode())

    return chain


def main() -> None:
    now = datetime.now(UTC)
    identities = make_identities([IdentitySpec(ARN)], now)
    identity = identities.identities[0]
    headers = signed(identity)
    incoming = SignedRequest("POST", "/", "", list(headers.items()), FORM.encode())
    assert verify(incoming, identities, now).decision.allowed
    assert answer(incoming, identities, now).status == 200
    signer = SigV4Auth(
        Credentials(identity.access_key_id, identity.secret_access_key, identity.session_token),
        "sts",
        "us-east-1",
    )
    # The request as signed (botocore's own headers, without the Authorization it added).
    prebuilt = AWSRequest(
        method="POST",
        url=f"https://{HOST}/",
        data=FORM.encode(),
        headers={k: v for k, v in headers.items() if k != "Authorization"},
    )
    prebuilt.context["timestamp"] = headers["X-Amz-Date"]
    canonical = signer.canonical_request(prebuilt)
    sent = headers["Authorization"].rsplit("Signature=", 1)[1]
    chain = bare_hmac_chain(identity.secret_access_key, headers["X-Amz-Date"], canonical, sent)
    assert chain()

    def botocore_alone() -> str:
        return signer.signature(
            signer.string_to_sign(prebuilt, signer.canonical_request(prebuilt)), prebuilt
        )

    reference = rate(chain)
    figures = {
        "bare HMAC chain (reference)": reference,
        "botocore SigV4Auth alone": rate(botocore_alone),
        "aws_side.sigv4.verify": rate(lambda: verify(incoming, identities, now)),
        "aws_side.sts.answer": rate(lambda: answer(incoming, identities, now)),
    }
    for name, value in figures.items():
        print(f"{name:32s} {value:10.0f}/s  x{value / reference:.3f} of the reference")
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk not found: the HTTP figure is skipped")
        return
    with tempfile.TemporaryDirectory(prefix="wiflab-bench-aws-") as tmp:
        credentials = identities.write(Path(tmp) / "credentials.json")
        script = Path(tmp) / "sts.lua"
        lines = ['wrk.method = "POST"', f'wrk.body = "{FORM}"']
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
        script.write_text("\n".join(lines) + "\n")
        env = AwsSettings(credentials).to_env()
        spec = (
            "wiflab_core.serving:app_from_env("
            "'aws_side.sts_http:create_app', 'aws_side.settings:AwsSettings')"
        )
        with GunicornProcess(
            spec, workers=1, env=env, extra_args=["--worker-class", "gthread", "--threads", "8"]
        ) as server:
            http = wrk_rate(wrk, f"{server.url}/", script)
    in_process = figures["aws_side.sts.answer"]
    name = "HTTP, gunicorn 1 worker (wrk)"
    print(f"{name:32s} {http:10.0f}/s  x{http / in_process:.3f} of answer in-process")


if __name__ == "__main__":
    main()
