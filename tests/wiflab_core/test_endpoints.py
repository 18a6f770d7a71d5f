"""endpoints.json's one model: what the writers write, what the readers (and the standalone
sample clients) read, and clear errors naming the file and the field."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from wiflab_core import endpoints as endpoints_file
from wiflab_core.endpoints import EndpointsError

REPO = Path(__file__).resolve().parents[2]
URL = "http://127.0.0.1:9"


def document() -> dict:
    """A local stack's file, as ``wiflab up`` writes it."""
    return {
        "version": 1,
        "target": "local",
        "mode": "threads",
        "project": {"id": "demo-project", "number": "123456789012"},
        "topology": "/lab/wif.yaml",
        "idp": {
            "issuer": URL,
            "token_url": f"{URL}/token",
            "profile_url": f"{URL}/token/{{profile}}",
            "admin_secret_file": "/lab/idp-admin-secret",
        },
        "sts": {"token_url": f"{URL}/v1/token"},
        "iamcredentials": {"api_endpoint": URL},
        "google_issuer": {
            "issuer": URL,
            "certs_v1": f"{URL}/oauth2/v1/certs",
            "certs_v3": f"{URL}/oauth2/v3/certs",
            "tokeninfo": f"{URL}/oauth2/v3/tokeninfo",
        },
        "metadata": {"host": "127.0.0.1:9"},
        "services": {"dump": {"url": f"{URL}0"}},
        "providers": {"pool/provider": {"audience": "//iam.googleapis.com/projects/1/x"}},
        "serviceAccounts": ["sa@demo-project.iam.gserviceaccount.com"],
        "credentials": {"pool.provider.file": "/lab/credentials/pool.provider.file.json"},
    }


def test_a_written_file_reads_back_the_same_and_is_private(tmp_path: Path) -> None:
    model = endpoints_file.Endpoints.from_json(document())
    path = model.write(tmp_path / "endpoints.json")
    assert path.stat().st_mode & 0o077 == 0
    assert json.loads(path.read_text()) == document()
    assert endpoints_file.load(path) == model
    assert model.service_accounts == ("sa@demo-project.iam.gserviceaccount.com",)
    assert model.service_url("dump") == f"{URL}0"


def test_a_file_without_version_is_version_1(tmp_path: Path) -> None:
    doc = document()
    del doc["version"]
    assert endpoints_file.Endpoints.from_json(doc).version == 1


def test_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    cases = [
        ({**document(), "version": 2}, "version: this wiflab reads version 1, not 2"),
        ({k: v for k, v in document().items() if k != "sts"}, "sts: missing"),
        (
            {**document(), "sts": {"token_url": "sts.local"}},
            "sts.token_url: must be an http(s) URL",
        ),
        ({**document(), "target": "aws"}, "target: "),
        ({**document(), "stss": {}}, "stss: unknown key"),
    ]
    for doc, expected in cases:
        path.write_text(json.dumps(doc))
        with pytest.raises(EndpointsError) as caught:
            endpoints_file.load(path)
        assert str(caught.value).startswith(f"{path}: {expected}"), str(caught.value)
    path.write_text("{not json")
    with pytest.raises(EndpointsError, match=r"endpoints\.json: not JSON"):
        endpoints_file.load(path)
    with pytest.raises(EndpointsError, match=r"absent\.json: "):
        endpoints_file.load(tmp_path / "absent.json")


def test_a_target_without_idp_or_metadata_says_so() -> None:
    doc = {k: v for k, v in document().items() if k not in ("idp", "metadata")}
    model = endpoints_file.Endpoints.from_json({**doc, "target": "gcp", "mode": None})
    with pytest.raises(EndpointsError, match="idp: missing: the gcp target has no lab IdP"):
        model.require_idp()
    with pytest.raises(EndpointsError, match="metadata: missing"):
        model.require_metadata()


def _subscript_chains(source: str, root: str) -> set[tuple[str, ...]]:
    """Every constant-key chain read as ``root[...][...]`` in source: the keys a client reads."""
    chains = set()
    for node in ast.walk(ast.parse(source)):
        keys: list[str] = []
        while isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            keys.insert(0, str(node.slice.value))
            node = node.value
        if keys and isinstance(node, ast.Name) and node.id == root:
            chains.add(tuple(keys))
    return chains


def _client_chains() -> dict[str, set[tuple[str, ...]]]:
    """The endpoints.json keys each standalone client reads (python: subscripts; node:
    attributes; shell: jq paths on $WIFLAB_ENDPOINTS)."""
    clients = REPO / "clients"
    node = (clients / "node/index.js").read_text()
    shells = {name: (clients / name).read_text() for name in ("shell/chain.sh", "gcloud/chain.sh")}
    return {
        "python/wif_settings.py": _subscript_chains(
            (clients / "python/wif_settings.py").read_text(), "endpoints"
        ),
        "node/index.js": {tuple(m.split(".")) for m in re.findall(r"\bendpoints\.([\w.]+)", node)},
        **{
            name: {
                tuple(m.split("."))
                for m in re.findall(r"jq -r \.([\w.]+) \"\$WIFLAB_ENDPOINTS\"", text)
            }
            for name, text in shells.items()
        },
    }


def test_the_sample_clients_read_keys_the_model_writes() -> None:
    """The clients read endpoints.json with plain JSON tools: their keys must be the model's."""
    chains = _client_chains()
    assert chains["python/wif_settings.py"] >= {
        ("iamcredentials", "api_endpoint"),
        ("google_issuer", "tokeninfo"),
    }
    assert ("iamcredentials", "api_endpoint") in chains["node/index.js"]
    assert ("sts", "token_url") in chains["gcloud/chain.sh"]
    written = endpoints_file.Endpoints.from_json(document()).to_json()
    for client, read in chains.items():
        for chain in read:
            value = written
            for key in chain:
                assert key in value, f"{client} reads {'.'.join(chain)}; the model has no {key}"
                value = value[key]
