"""Item 12 of issue 12: `wiflab up --host ::1` (IPv6 loopback) serves the whole chain."""

from __future__ import annotations

import signal

import pytest

from tests.wiflab_stack.test_up import SA, all_urls, seed_001_chain, start_up


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_up_on_ipv6_loopback_serves_the_chain(tmp_path, mode):
    process, endpoints = start_up(tmp_path, "--mode", mode, "--host", "::1")
    try:
        assert all(url.startswith("http://[::1]:") for url in all_urls(endpoints))
        dump = seed_001_chain(endpoints)
        assert dump["identity"]["claims"]["email"] == SA
        assert dump["identity"]["verified"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
