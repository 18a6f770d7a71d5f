"""The one guard of the lab's /wiflab/v1 API (journal and topology): who passes, who is told why."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_gcp.admin_guard import require_admin
from mock_gcp.errors import ApiError

SECRET = "the-admin-secret"


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "::1%lo"])
def test_loopback_peers_pass_without_a_secret(remote):
    require_admin(remote, None, None)
    require_admin(remote, "Bearer wrong", SECRET)


@pytest.mark.parametrize("remote", ["192.0.2.7", "::ffff:192.0.2.7", "10.0.0.1", None, "", "x"])
def test_beyond_loopback_without_a_secret_set_is_403(remote):
    with pytest.raises(ApiError) as refused:
        require_admin(remote, f"Bearer {SECRET}", "")
    assert refused.value.code == 403 and "loopback callers only" in refused.value.message


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer nope", f"Basic {SECRET}"])
def test_beyond_loopback_a_missing_or_wrong_secret_is_401(authorization):
    with pytest.raises(ApiError) as refused:
        require_admin("192.0.2.7", authorization, SECRET)
    assert refused.value.code == 401 and "Bearer <WIFLAB_ADMIN_SECRET>" in refused.value.message


def test_beyond_loopback_the_secret_passes_in_any_scheme_case():
    require_admin("192.0.2.7", f"Bearer {SECRET}", SECRET)
    require_admin("192.0.2.7", f"bearer  {SECRET} ", SECRET)


@given(remote=st.text(max_size=60), authorization=st.none() | st.text(max_size=80))
def test_any_peer_and_header_is_an_answer_never_a_crash(remote, authorization):
    try:
        require_admin(remote, authorization, SECRET)
    except ApiError as refused:
        assert refused.code in (401, 403)
