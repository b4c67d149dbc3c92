"""Sign a user up and in, register their strap and upload its samples, through the public API (tests and
benchmarks)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol


class HttpClient(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # not a test class

    id: int
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(client: HttpClient, base: str = "", **profile: Any) -> TestUser:
    email = profile.pop("email", f"user-{uuid.uuid4().hex[:10]}@example.org")
    password = profile.pop("password", "correct horse battery")
    answer = client.post(f"{base}/api/v1/users", json={"email": email, "password": password, **profile})
    assert answer.status_code == 201, answer.text
    token = client.post(f"{base}/api/v1/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    return TestUser(
        id=answer.json()["id"], email=email, password=password, token=token.json()["access_token"]
    )


def register_device(client: HttpClient, user: TestUser, base: str = "", **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Test strap")
    answer = client.post(f"{base}/api/v1/devices", json=body, headers=user.headers)
    assert answer.status_code in (200, 201), answer.text
    return dict(answer.json())


def upload_samples(
    client: HttpClient, user: TestUser, device_id: int, samples: list[dict[str, Any]], *, chunk: int = 10_000
) -> None:
    """POST `samples` to the device in batches of `chunk`: each answered 200 with nothing rejected."""
    for i in range(0, len(samples), chunk):
        answer = client.post(
            f"/api/v1/devices/{device_id}/samples", json={"samples": samples[i : i + chunk]}, headers=user.headers
        )
        assert answer.status_code == 200, answer.text
        assert not answer.json()["rejected"], answer.json()["rejected"][:3]
