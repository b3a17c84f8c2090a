"""``tokenprovider demo --tds``: the Token Dispenser flow, entirely on 127.0.0.1.

moto's server plays SSM and DynamoDB, a local Lambda Invoke endpoint runs the TDS
handler, and a local resource accepts only tokens the dispenser minted. Time is
simulated (a `FakeClock` shared by the provider and the dispenser), so the refresh an
hour-long token needs happens in a moment.
"""

from __future__ import annotations

from typing import Any, TextIO

from tokenprovider.cli.demo import _Report
from tokenprovider.testing.clock import FakeClock
from tokenprovider.testing.http_recorder import _BackgroundServer, _Handler
from tokenprovider.testing.refresh import wait_for_refresh
from tokenprovider.testing.tds_dispenser import LocalTokenDispenser, TokenDispenserHandler

CLIENT_ID = "demoapp"


class _ProtectedResource(_BackgroundServer):
    """Answers 200 to a request whose raw Authorization is a live dispenser token."""

    def __init__(self, handler: TokenDispenserHandler) -> None:
        super().__init__()
        self.handler = handler
        self.unauthorized = 0

    def handle(self, request: _Handler, body: bytes) -> None:
        if self.handler.is_valid(request.headers.get("Authorization", "")):
            request.respond_json(200, {"ok": True})
        else:
            self.unauthorized += 1
            request.respond_json(401, {"error": "not a live Launchpad token"})


class _Calls:
    """Counts boto3 API calls by operation, through botocore's event hooks."""

    def __init__(self, session: Any) -> None:
        self.counts: dict[str, int] = {}
        session.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        self.counts[name] = self.counts.get(name, 0) + 1

    def __call__(self, name: str) -> int:
        return self.counts.get(name, 0)


def run_tds_demo(out: TextIO) -> int:
    """Run the dispenser scenes, print a short report, and return 0 if all went well."""
    from tokenprovider.testing.moto import require_testing  # noqa: PLC0415

    boto3 = require_testing("boto3", "demo --tds")  # MissingExtraError: exit 3
    require_testing("moto.server", "demo --tds")
    from tokenprovider.providers.tds import TDSTokenProvider  # noqa: PLC0415
    from tokenprovider.testing.tds_dispenser import environment  # noqa: PLC0415

    report = _Report(out)
    clock = FakeClock()
    with LocalTokenDispenser(clock=clock) as tds, environment(tds.env):
        assert tds.handler is not None
        with _ProtectedResource(tds.handler) as resource:
            out.write(
                f"tokenprovider demo --tds: SSM and DynamoDB at {tds.moto.url} (moto), "
                f"Lambda Invoke at {tds.lambda_server.url}, resource at {resource.url}\n"
                "time is simulated: the provider and the dispenser share one clock\n\n"
            )
            session = boto3.session.Session()
            calls = _Calls(session)
            provider = TDSTokenProvider(
                f"http://{resource.domain}", CLIENT_ID, boto3_session=session, clock=clock
            )
            out.write(f"  provider: {provider!r}\n\n")
            _scenes(provider, tds, resource=resource, calls=calls, clock=clock, report=report)
    return report.finish()


def _scenes(
    provider: Any,
    tds: LocalTokenDispenser,
    *,
    resource: _ProtectedResource,
    calls: _Calls,
    clock: FakeClock,
    report: _Report,
) -> None:
    assert tds.handler is not None
    with provider.session() as http:
        first = http.get(resource.url + "/granules")
        report.line(
            calls("ssm:GetParametersByPath") == 1 and provider.token_document()["sm_token"],
            "SSM discovery",
            f"1 listing of /service/token-dispenser found {tds.ssm_key}",
        )
        report.line(
            calls("lambda:Invoke") == 1 and tds.handler.minted == 1,
            "dispenser invoked",
            f"{calls('lambda:Invoke')} invoke, {tds.handler.minted} token minted and cached "
            f"in {tds.table_name}",
        )
        report.line(
            first.status_code == 200,
            "token on a request",
            f"raw Authorization header (as CMR takes it) → HTTP {first.status_code}",
        )
        statuses = {http.get(resource.url + "/granules").status_code for _ in range(50)}
        report.line(
            statuses == {200} and calls("lambda:Invoke") == 1 and calls("ssm:GetParameter") == 0,
            "cached token reused",
            f"50 more requests, {calls('lambda:Invoke') - 1} invokes, "
            f"{calls('ssm:GetParametersByPath') - 1} SSM calls",
        )
        old = provider.token
        clock.advance(3600 - 250)  # into the refresh window, inside the dispenser's margin
        after = http.get(resource.url + "/granules")  # sent at once, with the current token
        wait_for_refresh(provider)  # the refresh ahead runs in a worker thread
        report.line(
            after.status_code == 200
            and provider.token != old
            and calls("lambda:Invoke") == 2
            and resource.unauthorized == 0,
            "refreshed 250 s before expiry",
            f"{calls('lambda:Invoke') - 1} invoke in a worker thread, a new token (the "
            f"dispenser did not hand back the old one), HTTP {after.status_code}, "
            f"{resource.unauthorized} HTTP 401s",
        )
