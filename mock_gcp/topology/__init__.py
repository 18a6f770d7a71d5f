"""The topology: one project's federation setup, loaded from YAML and validated once.

The same document drives the local stand-in and ``deploy/`` for real Google Cloud, so resource
bodies keep the IAM REST API's field names (``resources``) and anything that exists only in this
lab lives apart (``lab``: ``services[].app``, ``idp``, ``local``). Every validation error names
its path in the document, e.g. ``pools[0].providers[1].attributeMapping: google.subject is
required`` (``errors``). ``loading`` reads and writes the YAML.
"""

from mock_gcp.iam import Binding, Policy
from mock_gcp.topology.document import Topology
from mock_gcp.topology.errors import TopologyError
from mock_gcp.topology.lab import IDP_APP, PROTECTED_APP, IdpSettings, LocalSettings, Service
from mock_gcp.topology.loading import load_topology, parse_topology, topology_to_dict
from mock_gcp.topology.resources import (
    AwsConfig,
    OidcConfig,
    OrgPolicy,
    Pool,
    Project,
    Provider,
    ServiceAccount,
    derive_unique_id,
)

__all__ = [
    "IDP_APP",
    "PROTECTED_APP",
    "AwsConfig",
    "Binding",
    "IdpSettings",
    "LocalSettings",
    "OidcConfig",
    "OrgPolicy",
    "Policy",
    "Pool",
    "Project",
    "Provider",
    "Service",
    "ServiceAccount",
    "Topology",
    "TopologyError",
    "derive_unique_id",
    "load_topology",
    "parse_topology",
    "topology_to_dict",
]
