"""The reference: auths that set a constant header and do nothing else (a requests
`AuthBase`, as every requests auth is, and an `httpx.Auth` whose flow sets it and yields)."""

from __future__ import annotations

from collections.abc import Generator

import httpx
import requests
import requests.auth

from adapters.base import AsyncAdapter, Endpoint, RequestsAdapter

HEADER = "Bearer constant-token"


class ConstantHeader(requests.auth.AuthBase):
    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = HEADER
        return r


class ConstantHeaderFlow(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = HEADER
        yield request


class RequestsBaseline(RequestsAdapter):
    name = "constant header"
    distribution = "requests"
    imports = build = ""
    rank = 0
    reference = True

    def make(self, endpoint: Endpoint) -> ConstantHeader:
        return ConstantHeader()

    def attach(self, auth: ConstantHeader) -> ConstantHeader:
        return auth


class AsyncBaseline(AsyncAdapter):
    name = "constant header"
    distribution = "httpx"
    imports = build = ""
    rank = 0
    reference = True

    def make(self, endpoint: Endpoint) -> ConstantHeaderFlow:
        return ConstantHeaderFlow()

    def flow(self, auth: ConstantHeaderFlow) -> ConstantHeaderFlow:
        return auth


ADAPTERS = (RequestsBaseline(), AsyncBaseline())
