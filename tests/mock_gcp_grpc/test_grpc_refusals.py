"""Each refusal of the REST catalogue, over gRPC: Google's canonical code, the REST message
word for word, and the same ``google.rpc`` details (ErrorInfo: reason, domain, metadata;
BadRequest) in ``grpc-status-details-bin``, as google-api-core reads them.

Texts are Google's literal ones (the reference's captures: /work/shared/reference/), or
marked unverified where the REST catalogue marks them so.
"""

from __future__ import annotations

import grpc
import pytest
from google.api_core import exceptions
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mock_gcp.topology import parse_topology, topology_to_dict
from tests.mock_gcp.conftest import CLOUD_PLATFORM, GROUP_SA, LONG_SA, NOBODY_SA, ORG_SA, SA

NAME = "projects/-/serviceAccounts/{}"
HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
MISSING = f"Request is missing required authentication credential. {HELP}"
INVALID_CREDENTIALS = f"Request had invalid authentication credentials. {HELP}"
INVALID_ARGUMENT = "Request contains an invalid argument."
LIFETIME_ZERO = "Lifetime of access token must be larger then zero."
SIGN_JWT_EXP = (  # iamcredentials.v1.json SignJwtRequest.payload (unverified as an error text)
    "If the JWT Claims Set contains an expiration time (`exp`) claim, it must be an integer "
    "timestamp that is not in the past and no more than 12 hours in the future."
)


def denied(permission: str) -> str:
    return f"Permission '{permission}' denied on resource (or it may not exist)."


def refused(call) -> exceptions.GoogleAPICallError:
    with pytest.raises(exceptions.GoogleAPICallError) as caught:
        call()
    return caught.value


def assert_iam_denied(error, permission: str) -> None:
    assert error.grpc_status_code == grpc.StatusCode.PERMISSION_DENIED
    assert error.message == denied(permission)
    assert (error.reason, error.domain) == ("IAM_PERMISSION_DENIED", "iam.googleapis.com")
    assert error.metadata == {"permission": permission}


# -- IAM: bindings --------------------------------------------------------------------------


def test_id_token_without_a_binding(client):
    error = refused(lambda: client().generate_id_token(name=NAME.format(NOBODY_SA), audience="a"))
    assert_iam_denied(error, "iam.serviceAccounts.getOpenIdToken")


def test_unknown_account_is_the_same_403(client):
    error = refused(
        lambda: client().generate_id_token(name=NAME.format("no-such@x.com"), audience="a")
    )
    assert_iam_denied(error, "iam.serviceAccounts.getOpenIdToken")


def test_openid_token_creator_cannot_sign_blobs(client):
    # ORG_SA: serviceAccountOpenIdTokenCreator for org acme only.
    error = refused(lambda: client().sign_blob(name=NAME.format(ORG_SA), payload=b"x"))
    assert_iam_denied(error, "iam.serviceAccounts.signBlob")


def test_openid_token_creator_cannot_sign_jwts(client):
    error = refused(lambda: client().sign_jwt(name=NAME.format(ORG_SA), payload="{}"))
    assert_iam_denied(error, "iam.serviceAccounts.signJwt")


def test_access_token_without_the_permission(client):
    error = refused(
        lambda: client().generate_access_token(name=NAME.format(ORG_SA), scope=[CLOUD_PLATFORM])
    )
    assert_iam_denied(error, "iam.serviceAccounts.getAccessToken")


def test_delegate_without_implicit_delegation(client):
    error = refused(
        lambda: client().generate_id_token(
            name=NAME.format(SA), audience="a", delegates=[NAME.format(NOBODY_SA)]
        )
    )
    assert_iam_denied(error, "iam.serviceAccounts.implicitDelegation")


def test_unknown_account_with_a_project_wide_grant_is_not_found(client, google, topology):
    document = topology_to_dict(topology)
    document["policy"] = {
        "bindings": [
            {
                "role": "roles/iam.serviceAccountTokenCreator",
                "members": [
                    "principal://iam.googleapis.com/projects/123456789012/locations/global/"
                    "workloadIdentityPools/test-pool/subject/alice@domain.com"
                ],
            }
        ]
    }
    google.backend.apply_topology(parse_topology(document))
    error = refused(
        lambda: client().generate_id_token(name=NAME.format("gone@x.com"), audience="a")
    )
    assert error.grpc_status_code == grpc.StatusCode.NOT_FOUND
    assert error.message == "Not found; Gaia id not found for email gone@x.com"


def test_disabled_account_is_a_failed_precondition(client, google, topology):
    document = topology_to_dict(topology)
    next(a for a in document["serviceAccounts"] if a["email"] == SA)["disabled"] = True
    google.backend.apply_topology(parse_topology(document))
    error = refused(lambda: client().generate_id_token(name=NAME.format(SA), audience="a"))
    assert error.grpc_status_code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.message == "Precondition check failed."  # unverified (as over REST)


# -- the request -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "fields", "message"),
    [
        ("generate_access_token", {"scope": []}, INVALID_ARGUMENT),
        (
            "generate_access_token",
            # A Duration is a message: a zero one is sent (R-GCP: REST's "0s" is refused).
            {"scope": [CLOUD_PLATFORM], "lifetime": duration_pb2.Duration(seconds=0)},
            LIFETIME_ZERO,
        ),
        (
            "generate_access_token",
            {"scope": [CLOUD_PLATFORM], "lifetime": duration_pb2.Duration(seconds=-1)},
            LIFETIME_ZERO,
        ),
        (
            "generate_access_token",
            {"scope": [CLOUD_PLATFORM], "lifetime": duration_pb2.Duration(seconds=7200)},
            f"Access tokens for service account {GROUP_SA} can not have lifetimes of more "
            "than 1 hour. Use the Org Policy Constraint "
            "constraints/iam.allowServiceAccountCredentialLifetimeExtension to allow up to "
            "12 hours.",
        ),
        (
            "generate_access_token",
            {"scope": ["https://www.googleapis.com/auth/cloud-platfrom"]},
            INVALID_ARGUMENT,  # unverified text; R-GCP's 400 INVALID_ARGUMENT
        ),
        ("generate_id_token", {}, INVALID_ARGUMENT),  # no audience (unverified text)
        ("sign_jwt", {"payload": '{"exp": 1000000000}'}, SIGN_JWT_EXP),
        ("sign_jwt", {"payload": '{"exp": 99999999999}'}, SIGN_JWT_EXP),
        ("sign_jwt", {"payload": '{"exp": "1000000000"}'}, SIGN_JWT_EXP),
        ("sign_jwt", {"payload": "{x"}, INVALID_ARGUMENT),  # unverified text
    ],
)
def test_bad_requests_are_invalid_argument(client, method, fields, message):
    call = getattr(client(), method)
    error = refused(lambda: call(name=NAME.format(GROUP_SA), **fields))
    assert error.grpc_status_code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == message


def test_lifetime_over_an_hour_with_the_org_policy(client):
    # LONG_SA: named by the lifetime extension; bound for alice as workloadIdentityUser.
    response = client().generate_access_token(
        name=NAME.format(LONG_SA),
        scope=[CLOUD_PLATFORM],
        lifetime=duration_pb2.Duration(seconds=7200),
    )
    assert response.access_token


def test_project_id_in_the_name(client):
    error = refused(
        lambda: client().generate_id_token(
            name=f"projects/demo-project/serviceAccounts/{SA}", audience="a"
        )
    )
    assert error.grpc_status_code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == INVALID_ARGUMENT


def test_a_name_that_is_not_a_resource_name(client):
    error = refused(lambda: client().generate_id_token(name=SA, audience="a"))
    assert error.grpc_status_code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == INVALID_ARGUMENT


# -- the caller's credential -----------------------------------------------------------------


def assert_unauthenticated(error, message: str, reason: str, method: str) -> None:
    assert error.grpc_status_code == grpc.StatusCode.UNAUTHENTICATED
    assert error.message == message
    assert error.reason == reason
    assert error.metadata == {
        "service": "iamcredentials.googleapis.com",
        "method": f"google.iam.credentials.v1.IAMCredentials.{method}",
    }


def test_no_authorization_metadata(insecure_client):
    error = refused(lambda: insecure_client().generate_id_token(name=NAME.format(SA), audience="a"))
    assert_unauthenticated(error, MISSING, "CREDENTIALS_MISSING", "GenerateIdToken")


@pytest.mark.parametrize("value", ["Basic YTpi", "Bearer", "bearer", ""])
def test_authorization_that_is_no_bearer_token(insecure_client, value):
    error = refused(
        lambda: insecure_client().sign_blob(
            name=NAME.format(SA), payload=b"x", metadata=[("authorization", value)]
        )
    )
    assert_unauthenticated(error, MISSING, "CREDENTIALS_MISSING", "SignBlob")


def test_a_token_google_did_not_issue(insecure_client, issuer):
    error = refused(
        lambda: insecure_client().generate_access_token(
            name=NAME.format(SA),
            scope=[CLOUD_PLATFORM],
            metadata=[("authorization", f"Bearer {issuer.mint()}")],
        )
    )
    assert_unauthenticated(
        error, INVALID_CREDENTIALS, "ACCESS_TOKEN_TYPE_UNSUPPORTED", "GenerateAccessToken"
    )


def test_insufficient_scopes(client):
    email_only = client(scopes=["https://www.googleapis.com/auth/userinfo.email"])
    error = refused(lambda: email_only.sign_jwt(name=NAME.format(GROUP_SA), payload="{}"))
    assert error.grpc_status_code == grpc.StatusCode.PERMISSION_DENIED
    assert error.message == "Request had insufficient authentication scopes."
    assert error.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


# -- the wire: what a raw gRPC client sees ---------------------------------------------------


def test_status_details_are_a_google_rpc_status(target):
    """grpc-status-details-bin carries a google.rpc.Status whose code and message are the
    call's, with the ErrorInfo packed as google.protobuf.Any."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary("/google.iam.credentials.v1.IAMCredentials/GenerateIdToken")
        with pytest.raises(grpc.RpcError) as caught:
            call(b"")
    status = rpc_status.from_call(caught.value)
    assert status is not None
    assert status.code == grpc.StatusCode.UNAUTHENTICATED.value[0] == 16
    assert status.message == MISSING
    (detail,) = status.details
    assert detail.type_url == "type.googleapis.com/google.rpc.ErrorInfo"
    info = error_details_pb2.ErrorInfo()
    detail.Unpack(info)
    assert info.reason == "CREDENTIALS_MISSING"
    assert info.domain == "googleapis.com"


def test_an_unknown_method_is_unimplemented(target):
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary("/google.iam.credentials.v1.IAMCredentials/GenerateFoo")
        with pytest.raises(grpc.RpcError) as caught:
            call(b"", timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
