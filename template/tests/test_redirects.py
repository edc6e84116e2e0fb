"""The service never builds a URL from the client's Host header."""

import pytest
from httpx import AsyncClient


@pytest.mark.parametrize("path", ["/tickets/", "/health/live/", "/health/ready/"])
async def test_no_redirect_carries_a_client_supplied_host(client: AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"host": "evil.example"})

    assert "evil.example" not in response.headers.get("location", "")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
