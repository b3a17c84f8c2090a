"""A local AWS Lambda Invoke endpoint on 127.0.0.1, standard library only.

It speaks the real REST API (``POST /2015-03-31/functions/{name}/invocations``), so boto3
talks to it unchanged through ``endpoint_url`` or ``AWS_ENDPOINT_URL_LAMBDA``: handler
exceptions come back as ``X-Amz-Function-Error: Unhandled``, unknown functions as 404
``ResourceNotFoundException``, and throttling (429 ``TooManyRequestsException``) on demand.
"""

from __future__ import annotations

import json
import threading
import traceback
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote

from tokenprovider.testing.http_recorder import _BackgroundServer, _Handler

LambdaHandler = Callable[[Any, "LambdaContext"], Any]
_PREFIX = "/2015-03-31/functions/"
_SUFFIX = "/invocations"


class LambdaContext(NamedTuple):
    """The parts of Lambda's context object a handler usually reads."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str


class Invocation(NamedTuple):
    """One invocation the endpoint answered (throttled ones included)."""

    function_name: str
    event: Any
    outcome: str  # "ok", "error", "throttled" or "not found"


class LocalLambdaServer(_BackgroundServer):
    """Lambda's Invoke API for functions registered with `add_function`."""

    def __init__(self, region: str = "us-west-2", account: str = "123456789012") -> None:
        super().__init__()
        self.region = region
        self.account = account
        self._functions: dict[str, LambdaHandler] = {}
        self._invocations: list[Invocation] = []
        self._throttle = 0
        self._lock = threading.Lock()

    def arn(self, name: str) -> str:
        """The ARN of function ``name``."""
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def add_function(self, name: str, handler: LambdaHandler) -> str:
        """Serve ``handler(event, context)`` as function ``name``; returns its ARN."""
        with self._lock:
            self._functions[name] = handler
        return self.arn(name)

    def remove_function(self, name: str) -> None:
        """Stop serving ``name`` (invocations then get 404 ResourceNotFoundException)."""
        with self._lock:
            self._functions.pop(name, None)

    def throttle_next(self, count: int = 1) -> None:
        """Answer the next ``count`` invocations with 429 TooManyRequestsException."""
        with self._lock:
            self._throttle += count

    @property
    def invocations(self) -> list[Invocation]:
        """Every invocation so far, in order."""
        with self._lock:
            return list(self._invocations)

    def invocation_count(self, outcome: str | None = None) -> int:
        """How many invocations there were (with ``outcome`` only, if given)."""
        return sum(1 for i in self.invocations if outcome is None or i.outcome == outcome)

    def reset_counters(self) -> None:
        """Forget the invocations recorded so far."""
        with self._lock:
            self._invocations.clear()

    def handle(self, request: _Handler, body: bytes) -> None:
        """Route one Invoke call."""
        path = request.path.split("?", 1)[0]
        if request.command != "POST" or not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
            _error(request, 404, "UnknownOperationException", f"no route for {request.path}")
            return
        given = unquote(path[len(_PREFIX) : -len(_SUFFIX)])
        name = given.split(":")[6] if given.startswith("arn:") and given.count(":") >= 6 else given
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            _error(request, 400, "InvalidRequestContentException", "could not parse the payload")
            return
        with self._lock:
            handler = self._functions.get(name)
            throttled = self._throttle > 0
            if throttled:
                self._throttle -= 1
            outcome = "throttled" if throttled else "not found" if handler is None else "ok"
            self._invocations.append(Invocation(name, event, outcome))
        if throttled:
            _error(request, 429, "TooManyRequestsException", "Rate Exceeded.")
            return
        if handler is None:
            _error(request, 404, "ResourceNotFoundException", f"Function not found: {given}")
            return
        self._run(request, name, handler, event)

    def _run(self, request: _Handler, name: str, handler: LambdaHandler, event: Any) -> None:
        request_id = str(uuid.uuid4())
        context = LambdaContext(name, self.arn(name), request_id)
        headers = {"X-Amz-Executed-Version": "$LATEST", "X-Amzn-RequestId": request_id}
        try:
            result = handler(event, context)
            payload = json.dumps(result).encode()
        except Exception as exc:
            with self._lock:
                self._invocations[-1] = self._invocations[-1]._replace(outcome="error")
            error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "stackTrace": traceback.format_tb(exc.__traceback__),
                "requestId": request_id,
            }
            headers["X-Amz-Function-Error"] = "Unhandled"
            payload = json.dumps(error).encode()
        request.respond(200, payload, "application/json", headers)


def _error(request: _Handler, status: int, code: str, message: str) -> None:
    request.respond_json(status, {"Type": "User", "message": message}, {"x-amzn-ErrorType": code})
