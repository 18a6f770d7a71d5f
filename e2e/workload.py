"""A workload running on Google Cloud (seed 002): its identity comes from the metadata server.

Run as a separate process, because google-auth reads GCE_METADATA_HOST when it is imported.
Prints JSON: the account the metadata server reports, an access token, and an ID token for
the audience given as the first argument.
"""

import json
import sys

import google.auth
from google.auth import compute_engine
from google.auth.transport.requests import Request


def main(audience: str) -> None:
    request = Request()
    # The email scope too, so that tokeninfo names the account (as a VM created with
    # --scopes=cloud-platform has: gcloud adds userinfo.email).
    credentials, project = google.auth.default(
        scopes=[
            "https://www.googleapis.com/auth/cloud-platform",
            "https://www.googleapis.com/auth/userinfo.email",
        ]
    )
    credentials.refresh(request)
    identity = compute_engine.IDTokenCredentials(
        request, target_audience=audience, use_metadata_identity_endpoint=True
    )
    identity.refresh(request)
    print(
        json.dumps(
            {
                "project": project,
                "email": credentials.service_account_email,
                "access_token": credentials.token,
                "id_token": identity.token,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
