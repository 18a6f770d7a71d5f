"""Projects in the state dir, as every worker sees them: two backends on one state dir stand
for two Google-side workers; what one puts or deletes, the other serves at its next request."""

from __future__ import annotations

from pathlib import Path

from mock_gcp.backend import GoogleBackend, LocalDeviations
from mock_gcp.topology import load_topology, parse_topology
from mock_gcp.topology_state import ProjectsState
from tests.namespaces.conftest import A_NUMBER, EXAMPLE, project_document

B_NUMBER, B_ID = "222233334444", "team-b-project"
SA_B = f"oidc-federated@{B_ID}.iam.gserviceaccount.com"


def worker(state: Path) -> GoogleBackend:
    return GoogleBackend(
        load_topology(EXAMPLE),
        LocalDeviations(google_issuer="http://127.0.0.1:9"),
        topology_state=state / "google" / "topology-in-force.json",
    )


def test_a_project_put_by_one_worker_is_served_by_the_other(tmp_path: Path) -> None:
    one, other = worker(tmp_path), worker(tmp_path)
    assert other.project(B_NUMBER) is None
    assert one.put_project(parse_topology(project_document(B_NUMBER, B_ID)), "0" * 64)
    served = other.project(B_NUMBER)
    assert served is not None and served.project_id == B_ID
    # Looked up as the services look up: an account by email, a pool by its resource name.
    assert other.projects.service_account(SA_B) is not None
    pool = f"projects/{B_NUMBER}/locations/global/workloadIdentityPools/oidc-pool-run"
    assert other.projects.pool(pool) is not None
    assert other.project_secret_sha256(B_NUMBER) == "0" * 64
    # A second creator of the same number does not get it.
    assert not other.put_project(parse_topology(project_document(B_NUMBER, B_ID)), "1" * 64)
    assert one.project_secret_sha256(B_NUMBER) == "0" * 64

    assert other.delete_project(B_NUMBER) is True
    assert one.project(B_NUMBER) is None
    assert one.projects.service_account(SA_B) is None
    assert [t.project_number for t in one.projects] == [A_NUMBER]


def test_a_changed_project_is_read_again_and_a_broken_file_keeps_the_last_good(
    tmp_path: Path,
) -> None:
    one, other = worker(tmp_path), worker(tmp_path)
    document = project_document(B_NUMBER, B_ID)
    one.put_project(parse_topology(document))
    assert other.project(B_NUMBER) is not None
    document["pools"] = document["pools"][:1]
    one.put_project(parse_topology(document))
    changed = other.project(B_NUMBER)
    assert changed is not None and len(changed.pools) == 1
    # Not a file put() wrote: the other worker keeps what it had.
    folder = tmp_path / "google" / "projects"
    (folder / B_NUMBER / "topology.json").write_text("{not json")
    (folder / "generation").write_text("bumped by hand")
    kept = other.project(B_NUMBER)
    assert kept is not None and len(kept.pools) == 1


def test_a_worker_that_puts_a_project_still_sees_the_one_another_put_before(
    tmp_path: Path,
) -> None:
    """Put without a look in between (another worker's put lands between this worker's read
    and its write): the next read still finds both."""
    folder = tmp_path / "projects"
    one, other = ProjectsState((), folder), ProjectsState((), folder)
    assert one.current() == {}
    other.put(parse_topology(project_document(B_NUMBER, B_ID)))
    one.put(parse_topology(project_document("555566667777", "team-c-project")))
    assert sorted(one.current()) == [B_NUMBER, "555566667777"]
