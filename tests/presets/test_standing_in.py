"""Locally, the lab IdP's preset paths stand in for the real providers' issuers."""

from __future__ import annotations

from mock_gcp.backend import LocalDeviations
from mock_gcp.settings import GoogleSettings
from wiflab_lab.parts import preset_issuers

LAB = "http://127.0.0.1:4100"


def test_real_issuers_map_to_their_preset_paths() -> None:
    deviations = LocalDeviations(google_issuer=LAB, preset_issuers=preset_issuers(LAB))
    stand_in = deviations.issuer_standing_in
    assert stand_in("https://token.actions.githubusercontent.com") == f"{LAB}/presets/github"
    assert stand_in("https://gitlab.com") == f"{LAB}/presets/gitlab"
    gke = "https://container.googleapis.com/v1/projects/p/locations/us-central1/clusters/c1"
    assert stand_in(gke) == f"{LAB}/presets/gke"
    eks = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF"
    assert stand_in(eks) == f"{LAB}/presets/eks"
    assert stand_in("https://kubernetes.default.svc.cluster.local") == f"{LAB}/presets/kubernetes"
    # Anything else is itself: a template's param never spans a '/'.
    assert stand_in("https://idp.example.com") == "https://idp.example.com"
    assert stand_in("https://oidc.eks.eu-west-1.amazonaws.com/id/A/B") == (
        "https://oidc.eks.eu-west-1.amazonaws.com/id/A/B"
    )


def test_the_setting_travels_through_the_environment(tmp_path) -> None:
    settings = GoogleSettings(tmp_path / "t.yaml", LAB, preset_issuers={"https://a": f"{LAB}/p"})
    again = GoogleSettings.from_env(settings.to_env())
    assert again.deviations().issuer_standing_in("https://a") == f"{LAB}/p"
