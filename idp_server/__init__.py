"""The fake OIDC identity provider."""
