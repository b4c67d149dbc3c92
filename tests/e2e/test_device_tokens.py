"""Devices: a leaked upload token is rotated from the page; the old one stops uploading at once, the new one
(shown once) uploads, and the device keeps its history."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Dash, Strap, now_ms

pytestmark = pytest.mark.e2e


def _upload(strap: Strap, token: str) -> int:
    answer = httpx.post(
        f"{strap.server.url}/api/v1/devices/{strap.device_id}/samples",
        json={"samples": [{"t": now_ms(), "bpm": 71}]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return answer.status_code


def test_rotate_an_upload_token_from_the_devices_page(signed_in: Dash, phone: Dash, strap: Strap) -> None:
    assert _upload(strap, strap.upload_token) == 200
    page = signed_in.page
    signed_in.goto("/devices")
    item = page.locator(f'#others li[data-device="{strap.device_id}"]')
    item.get_by_text("Upload tokens").click()
    tokens = item.locator("[data-part=tokens] li[data-token]")
    expect(tokens).to_have_count(1)
    expect(tokens.first).to_have_attribute("data-active", "true")

    item.get_by_role("button", name="Rotate upload token").click()
    dialog = page.get_by_role("dialog", name="Rotate the upload token of Chest strap?")
    expect(dialog).to_contain_text("every older one stops working")
    dialog.get_by_role("button", name="Keep the tokens").click()
    expect(dialog).to_be_hidden()
    assert _upload(strap, strap.upload_token) == 200  # kept: still uploads

    item.get_by_role("button", name="Rotate upload token").click()
    dialog.get_by_role("button", name="Yes, rotate").click()
    field = item.get_by_label("New upload token of Chest strap")
    expect(field).to_have_value(re.compile(r"^\S{20,}$"))
    new_token = field.input_value()
    assert new_token != strap.upload_token
    expect(tokens).to_have_count(2)
    expect(item.locator('[data-part=tokens] li[data-active="true"]')).to_have_count(1)
    expect(item.locator('[data-part=tokens] li[data-active="false"]')).to_contain_text("revoked")
    assert _upload(strap, strap.upload_token) == 401  # the leaked one is dead at once
    assert _upload(strap, new_token) == 200
    signed_in.shot("devices-token-rotated-1280")

    active = item.locator('[data-part=tokens] li[data-active="true"]')
    active.get_by_role("button", name=re.compile(r"^Revoke token \d+$")).click()
    page.get_by_role("dialog").get_by_role("button", name="Yes, revoke").click()
    expect(item.locator('[data-part=tokens] li[data-active="true"]')).to_have_count(0)
    assert _upload(strap, new_token) == 401
    signed_in.log.assert_clean()

    phone.goto("/devices")
    narrow = phone.page.locator(f'#others li[data-device="{strap.device_id}"]')
    narrow.get_by_text("Upload tokens").click()
    expect(narrow.locator("[data-part=tokens] li[data-token]")).to_have_count(2)
    phone.no_sideways_scroll()
    phone.shot("devices-tokens-390")
