# ruff: noqa
# fmt: off
# Seed 001's Python client, exactly as the seed writes it: IAMCredentialsClient() on its
# default transport (gRPC) and Application Default Credentials (google.auth.default(), from
# GOOGLE_APPLICATION_CREDENTIALS), with no endpoint anywhere. As the seed says, edit the url,
# audience and service account below to yours; nothing else. Against the local stack, run it
# inside `eval "$(wiflab env)"` with an intercept-mode config (clients/README.md); the suite
# runs it so in e2e/test_sample_clients_intercept.py. The seed's page lost its print lines;
# print(id_token.token) is the seed repository's, the last two print the service's answer.
# Everything below this comment is the seed's code: not linted, not formatted.
from google.auth import credentials
from google.cloud import  iam_credentials_v1

import google.auth
import google.oauth2.credentials

from google.auth.transport.requests import AuthorizedSession, Request

url = "https://federated-auth-cloud-run-6w42z6vi3q-uc.a.run.app/dump"
aud = "https://federated-auth-cloud-run-6w42z6vi3q-uc.a.run.app"
service_account = 'oidc-federated@your_project.iam.gserviceaccount.com'

client = iam_credentials_v1.services.iam_credentials.IAMCredentialsClient()

name = "projects/-/serviceAccounts/{}".format(service_account)
id_token = client.generate_id_token(name=name,audience=aud, include_email=True)

print(id_token.token)

creds = google.oauth2.credentials.Credentials(id_token.token)
authed_session = AuthorizedSession(creds)
r = authed_session.get(url)
print(r.status_code)
print(r.text)
