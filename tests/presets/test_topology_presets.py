"""The topology's ``idp.presets``: each preset's default params, strings only."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_gcp.topology import TopologyError, parse_topology, topology_to_dict

BASE: dict[str, Any] = {"project": {"id": "demo-project", "number": "123456789012"}}


def test_presets_load_and_round_trip() -> None:
    doc = {**BASE, "idp": {"presets": {"github": {"owner": "acme", "owner_id": "1342004"}}}}
    topology = parse_topology(doc)
    assert topology.idp.preset_params() == {"github": {"owner": "acme", "owner_id": "1342004"}}
    assert parse_topology(topology_to_dict(topology)) == topology


@pytest.mark.parametrize(
    ("presets", "message"),
    [
        ({"github": {"owner_id": 1342004}}, "idp.presets.github.owner_id: must be a string"),
        ({"GitHub": {}}, "idp.presets.GitHub: preset names are lowercase"),
        ({"github": ["owner"]}, "idp.presets.github: must be a mapping of params"),
        (["github"], "idp.presets: must be a mapping of presets"),
    ],
)
def test_bad_presets_name_their_path(presets: Any, message: str) -> None:
    with pytest.raises(TopologyError) as raised:
        parse_topology({**BASE, "idp": {"presets": presets}})
    assert message in str(raised.value)


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(presets=_values)
def test_any_presets_value_loads_or_names_its_path(presets: Any) -> None:
    try:
        topology = parse_topology({**BASE, "idp": {"presets": presets}})
    except TopologyError as exc:
        assert "idp.presets" in str(exc)
    else:
        for params in topology.idp.preset_params().values():
            assert all(isinstance(v, str) for v in params.values())
