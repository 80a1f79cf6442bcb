"""`ApiAuthorizer` with a fake API client: how API answers map to verdicts, the cache
(per token hash, namespace and pod; 10 s on a fake clock), and failures to decide."""

from __future__ import annotations

from typing import Any

import pytest

from control_plane.client.errors import ApiClientError, StatusError, Unreachable
from node_agent.logauth import ApiAuthorizer, AuthorizerUnavailable, PodReader, bearer_token


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


class FakeApi:
    """Answers GETs by token: a dict (200) or an exception to raise."""

    def __init__(self, answers: dict[str, ApiClientError | None]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str]] = []
        self.open = 0

    def factory(self, token: str) -> PodReader:
        api = self

        class Client:
            def __init__(self) -> None:
                api.open += 1

            def get(self, path: str) -> dict[str, Any]:
                api.calls.append((token, path))
                answer = api.answers.get(token, StatusError(401, "Unauthorized", "unknown token"))
                if answer is not None:
                    raise answer
                return {"kind": "Pod"}

            def close(self) -> None:
                api.open -= 1

        return Client()


@pytest.mark.parametrize(("answer", "verdict"), [
    (None, True),
    (StatusError(401, "Unauthorized", "no"), None),
    (StatusError(403, "Forbidden", "no"), False),
    (StatusError(404, "NotFound", "no such pod"), False),
])
def test_api_answers_become_verdicts(answer: ApiClientError | None, verdict: bool | None) -> None:
    api = FakeApi({"tok": answer})
    authz = ApiAuthorizer(api.factory, clock=FakeClock())
    assert authz.allowed("Bearer tok", "team-a", "web-1") is verdict
    assert api.calls == [("tok", "/api/v1/namespaces/team-a/pods/web-1")]
    assert api.open == 0  # every client is closed


@pytest.mark.parametrize("answer", [StatusError(500, "InternalError", "boom"), Unreachable("no server")])
def test_undecided_is_an_error_and_is_not_cached(answer: ApiClientError) -> None:
    api = FakeApi({"tok": answer})
    authz = ApiAuthorizer(api.factory, clock=FakeClock())
    for _ in range(2):
        with pytest.raises(AuthorizerUnavailable):
            authz.allowed("Bearer tok", "default", "web")
    assert len(api.calls) == 2 and api.open == 0


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer a b",
                                    "tok"])
def test_no_bearer_token_is_unauthenticated_without_asking(header: str | None) -> None:
    api = FakeApi({})
    assert ApiAuthorizer(api.factory, clock=FakeClock()).allowed(header, "default", "web") is None
    assert api.calls == []


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc.def") == "abc.def"
    assert bearer_token("bearer   abc.def ") == "abc.def"
    assert bearer_token("Bearer abc def") is None


def test_verdicts_are_cached_per_token_namespace_and_pod_for_ten_seconds() -> None:
    clock = FakeClock()
    api = FakeApi({"good": None, "bad": StatusError(403, "Forbidden", "no")})
    authz = ApiAuthorizer(api.factory, clock=clock)
    assert authz.allowed("Bearer good", "default", "web") is True
    assert authz.allowed("Bearer bad", "default", "web") is False
    clock.now += 9.9
    assert authz.allowed("Bearer good", "default", "web") is True
    assert authz.allowed("Bearer bad", "default", "web") is False
    assert len(api.calls) == 2
    assert authz.allowed("Bearer good", "default", "db") is True  # another pod: asked
    assert authz.allowed("Bearer good", "other", "web") is True  # another namespace: asked
    assert len(api.calls) == 4
    clock.now += 0.1  # 10 s after the first answers: asked again
    api.answers["good"] = StatusError(401, "Unauthorized", "token deleted")
    assert authz.allowed("Bearer good", "default", "web") is None
    assert len(api.calls) == 5


def test_the_cache_does_not_hold_tokens_in_clear() -> None:
    api = FakeApi({"s3cret.token": None})
    authz = ApiAuthorizer(api.factory, clock=FakeClock())
    authz.allowed("Bearer s3cret.token", "default", "web")
    assert "s3cret" not in repr(authz._cache)
