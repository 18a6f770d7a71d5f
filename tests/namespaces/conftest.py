"""One Google side serving several projects (mock_gcp.projects): the example topology as the
default project A, and copies of it under other project numbers and ids, put at run time
through ``PUT /wiflab/v1/projects/NUMBER/topology`` as a CI job would.

Each project's Cloud Run service gets a front end of its own here (``WIFLAB_RUN_PROJECT``),
in front of an echo app, so a chain runs through STS, IAM Credentials and the front end in
every project.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mock_gcp.run.front_end import create_app_from_settings
from mock_gcp.run.settings import FrontEndSettings
from wiflab_core.serving import ThreadedServer
from wiflab_lab.testing import WifProject, WifStack, example_topology, local_stack

EXAMPLE = example_topology()
A_NUMBER, A_ID = "123456789012", "demo-project"  # wif.yaml's
SERVICE = "federated-auth-cloud-run"


def project_document(number: str, project_id: str) -> dict[str, Any]:
    """The example topology as another project: every number and id in it replaced."""
    text = EXAMPLE.read_text(encoding="utf-8")
    return yaml.safe_load(text.replace(A_NUMBER, number).replace(A_ID, project_id))


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The app behind a front end: who the front end says called."""
    body = json.dumps({"path": environ.get("PATH_INFO")}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WifStack]:
    """Threads mode: the front ends built here share the stack's backend."""
    with local_stack(EXAMPLE, tmp_path_factory.mktemp("namespaces")) as stack:
        yield stack


@pytest.fixture(scope="module")
def google_url(stack: WifStack) -> str:
    return stack.endpoints.iamcredentials.api_endpoint


@pytest.fixture(scope="module")
def front_ends(stack: WifStack) -> Iterator[Callable[[str], str]]:
    """project number -> the URL of a front end for that project's SERVICE."""
    upstream = ThreadedServer(echo).start()
    made: dict[str, ThreadedServer] = {}

    def front_end(number: str) -> str:
        if number not in made:
            server = ThreadedServer()
            settings = FrontEndSettings(
                EXAMPLE,
                SERVICE,
                service_url=server.url,
                upstream_url=upstream.url,
                google_certs_url=f"{stack.endpoints.iamcredentials.api_endpoint}/oauth2/v3/certs",
                google_issuer=stack.endpoints.google_issuer.issuer,
                project=number,
            )
            server.app = create_app_from_settings(settings, backend=stack.backend)
            made[number] = server.start()
        return made[number].url

    yield front_end
    for server in made.values():
        server.stop()
    upstream.stop()


@pytest.fixture
def put_project(google_url: str) -> Iterator[Callable[..., WifProject]]:
    """Put a copy of the example under (number, id); deleted after the test."""
    made: list[WifProject] = []

    def put(number: str, project_id: str, **changes: Any) -> WifProject:
        document = {**project_document(number, project_id), **changes}
        project = WifProject(google_url, document).put()
        made.append(project)
        return project

    yield put
    for project in made:
        project.delete()


def subject_token_file(tmp_path: Path, token: str) -> str:
    path = tmp_path / f"subject-{len(list(tmp_path.iterdir()))}"
    path.write_text(token)
    return str(path)


@dataclass(frozen=True)
class Lab:
    """The shared Google side (A its default project), putting projects and their front ends."""

    stack: WifStack
    put: Callable[..., WifProject]
    front_end: Callable[[str], str]


@pytest.fixture
def lab(
    stack: WifStack,
    put_project: Callable[..., WifProject],
    front_ends: Callable[[str], str],
) -> Lab:
    return Lab(stack, put_project, front_ends)
