"""The flow explorer in a real browser, against a real stack: what a person sees.

The page draws the topology, runs the chain from Try it and shows it in the timeline with its
checks, breaks it five ways with Google's own error texts and the explanation, restores it and
runs it again. Each view is saved to docs/explorer-*.png (the README shows them).
"""

from __future__ import annotations

import json

import pytest
import requests

from mock_gcp.topology import topology_to_dict
from tests.explorer.conftest import DOCS

# Google's texts, word for word (shared/reference/gcp-wif-behaviour.md).
GOOGLE_TEXTS = {
    "remove-binding": "Permission 'iam.serviceAccounts.getOpenIdToken' denied on resource "
    "(or it may not exist).",
    "change-condition": "The given credential is rejected by the attribute condition.",
    "wrong-audience": "The audience in ID Token [https://wrong-audience.example.com] does not "
    "match the expected audience.",
    "long-subject": "The size of mapped attribute google.subject exceeds the 127 bytes limit. "
    "Either modify your attribute mapping or the incoming assertion to produce a mapped "
    "attribute that is less than 127 bytes.",
    "expired": "is stale to sign-in.",
}
WAIT_SECONDS = 30


def wait_for_text(browser, selector: str, text: str, timeout: float = WAIT_SECONDS) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def seen(driver):
        shown = driver.find_element(By.CSS_SELECTOR, selector).text
        return shown if text in shown else False

    try:
        return WebDriverWait(browser, timeout).until(seen)
    except Exception:
        shown = browser.find_element(By.CSS_SELECTOR, selector).text
        raise AssertionError(f"{text!r} never appeared in {selector}; it shows:\n{shown}") from None


def click(browser, selector: str) -> None:
    from selenium.webdriver.common.by import By

    element = browser.find_element(By.CSS_SELECTOR, selector)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def screenshot(browser, selector: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    DOCS.mkdir(exist_ok=True)
    element = browser.find_element(By.CSS_SELECTOR, selector)
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
    element.screenshot(str(DOCS / f"explorer-{name}.png"))


@pytest.fixture(scope="module")
def page(browser, explorer_url):
    browser.get(explorer_url + "/")
    wait_for_text(browser, "#diagram", "Cloud Run services")
    return browser


def test_the_diagram_names_every_pool_provider_account_and_service(page, explorer_stack):
    shown = page.find_element("css selector", "#diagram").text
    topology = explorer_stack.topology
    for pool in topology.pools:
        assert f"pool {pool.id}" in shown
        for provider in pool.providers:
            assert f"provider {provider.provider_id}" in shown
    lines = shown.replace("\n", "")  # a long name is cut over two lines, never hidden
    for account in topology.service_accounts:
        assert account.email in lines
    for service in topology.services:
        assert service.name in shown
    assert "condition: attribute.isadmin == 'true'" in shown
    assert "google.subject = assertion.sub" in shown
    assert "run.invoker" in shown  # a line from an account to the service it may invoke
    screenshot(page, "#topology-view", "topology")


def test_try_it_runs_the_chain_and_it_lands_in_the_timeline_with_its_checks(page):
    from selenium.webdriver.support.ui import Select

    Select(page.find_element("css selector", "#profile")).select_by_visible_text("alice")
    click(page, "#run")
    shown = wait_for_text(page, "#try-result", "The whole chain passed.")
    assert "alice@domain.com" in shown
    assert "✔ pass" in shown  # the demo's checks beside each step
    screenshot(page, "#try-view", "try-it")

    timeline = wait_for_text(page, "#timeline", "sts POST /v1/token")
    assert "→ 200 allowed" in timeline
    assert "generateIdToken" in timeline
    assert "Chain" in timeline
    # Open the exchange: its request, the subject token decoded, the checks.
    click(page, "#timeline details.step.allowed summary")
    opened = wait_for_text(page, "#timeline details[open]", "Checks")
    assert "✔ pass" in opened
    assert "token hidden" in opened or "Request" in opened
    screenshot(page, "#timeline-view", "timeline")


def test_an_edited_claim_set_is_what_sts_judges(page):
    claims = page.find_element("css selector", "#claims")
    edited = {"sub": "mallory@domain.com", "isadmin": "false", "mygroups": []}
    claims.clear()
    claims.send_keys(json.dumps(edited))
    click(page, "#run")
    shown = wait_for_text(page, "#try-result", "refused")
    assert "The given credential is rejected by the attribute condition." in shown


def test_broken_claims_json_is_named(page):
    claims = page.find_element("css selector", "#claims")
    claims.clear()
    claims.send_keys("{not json")
    click(page, "#run")
    assert "claims: not valid JSON" in wait_for_text(page, "#try-result", "claims")


@pytest.mark.parametrize("exercise", list(GOOGLE_TEXTS))
def test_each_break_it_exercise_shows_googles_error_and_the_explanation(
    page, explorer_url, explorer_stack, exercise
):
    click(page, f'button[data-exercise="{exercise}"]')
    shown = wait_for_text(page, "#break-result", GOOGLE_TEXTS[exercise])
    assert "refused" in shown
    assert "Why:" in shown or "What to check:" in shown
    if exercise == "change-condition":  # one view of Break it is enough for the README
        screenshot(page, "#break-view", "break-it")

    click(page, "#restore")
    wait_for_text(page, "#restore-status", "The start-up topology is in force again.")
    in_force = requests.get(f"{explorer_url}/api/topology", timeout=10).json()
    assert in_force == topology_to_dict(explorer_stack.topology)


def test_after_restore_the_chain_passes_again(page):
    from selenium.webdriver.support.ui import Select

    Select(page.find_element("css selector", "#profile")).select_by_visible_text("bob")
    Select(page.find_element("css selector", "#profile")).select_by_visible_text("alice")
    click(page, "#run")
    wait_for_text(page, "#try-result", "The whole chain passed.")


def test_projector_mode_is_larger_and_tokens_show_only_when_revealed(page):
    body = page.find_element("css selector", "body")
    normal = float(body.value_of_css_property("font-size").removesuffix("px"))
    click(page, "#projector")
    large = float(body.value_of_css_property("font-size").removesuffix("px"))
    assert large >= normal * 1.4
    screenshot(page, "#topology-view", "projector")
    click(page, "#projector")

    click(page, "#run")  # a chain of its own in the timeline
    wait_for_text(page, "#timeline", "sts POST /v1/token")
    click(page, "#reveal")
    page.execute_script("document.querySelector('#timeline details.step').open = true")
    opened = wait_for_text(page, "#timeline details[open]", "Request")
    assert "token hidden" not in opened
    click(page, "#reveal")


def test_the_time_to_render_1000_entries_and_the_topology_is_measured(browser, explorer_url):
    """A benchmark figure, printed (bench/explorer.py prints the same): no timed assertion."""
    from bench.explorer import ENTRIES, measure, report

    figures = measure(browser, explorer_url)
    print(report(figures))
    assert browser.execute_script("return window.wiflabExplorer.entryCount()") >= ENTRIES
    assert f"Chain {ENTRIES // 4}" in browser.find_element("css selector", "#timeline").text
