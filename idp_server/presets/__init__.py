"""Real identity providers' tokens, Google's templates for them, and the attacks they invite.

``PRESETS``: name -> ``Preset`` (the contract of issue 16, see ``base``). One module per
provider family; the shapes, with their sources, are in each module's docstring and in
/work/shared/reference/identity-providers.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from idp_server.presets.azure import AZURE, AZURE_DEVOPS
from idp_server.presets.base import Attack, Param, Preset, PresetError, Template
from idp_server.presets.bitbucket import BITBUCKET
from idp_server.presets.buildkite import BUILDKITE
from idp_server.presets.circleci import CIRCLECI
from idp_server.presets.github import GITHUB
from idp_server.presets.gitlab import GITLAB
from idp_server.presets.kubernetes import AKS, EKS, GKE, KUBERNETES
from idp_server.presets.okta import OKTA
from idp_server.presets.terraform import TERRAFORM

PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        preset.name: preset
        for preset in (
            GITHUB,
            GITLAB,
            TERRAFORM,
            KUBERNETES,
            GKE,
            EKS,
            AKS,
            AZURE,
            AZURE_DEVOPS,
            CIRCLECI,
            BITBUCKET,
            BUILDKITE,
            OKTA,
        )
    }
)


def preset(name: str) -> Preset:
    """The preset called ``name``, or a PresetError listing them."""
    found = PRESETS.get(name)
    if found is None:
        raise PresetError(f"preset: {name!r} is not one of {', '.join(PRESETS)}")
    return found


__all__ = ["PRESETS", "Attack", "Param", "Preset", "PresetError", "Template", "preset"]
