"""LocalLambdaServer through a plain boto3 Lambda client, over HTTP on 127.0.0.1.

Results, handler exceptions (``FunctionError``), unknown functions, throttling on demand,
addressing by ARN, bad payloads, ``AWS_ENDPOINT_URL_LAMBDA`` and the invocation record.
"""

from __future__ import annotations

import functools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tokenprovider.testing.lambda_server import LambdaContext, LocalLambdaServer

REGION = "us-west-2"


@pytest.fixture
def server() -> Iterator[LocalLambdaServer]:
    with LocalLambdaServer(region=REGION) as lambda_server:
        yield lambda_server


@functools.cache
def _session() -> Any:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


def lambda_client(url: str | None) -> Any:
    """A boto3 Lambda client with fake keys and no retries (one attempt per call)."""
    # botocore's retries "max_attempts" counts retries; "total_max_attempts" counts attempts
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return _session().client("lambda", endpoint_url=url, config=config)


def echo(event: Any, context: LambdaContext) -> dict[str, Any]:
    return {
        "event": event,
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
    }


def failing(event: Any, context: LambdaContext) -> Any:
    raise KeyError("client_id missing in " + context.function_name)


def test_invoke_returns_the_handler_result(server: LocalLambdaServer) -> None:
    server.add_function("echo", echo)
    client = lambda_client(server.url)

    response = client.invoke(
        FunctionName="echo", InvocationType="RequestResponse", Payload=b'{"a": [1, 2]}'
    )

    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    result = json.loads(response["Payload"].read())
    assert result["event"] == {"a": [1, 2]}
    assert result["function_name"] == "echo"
    assert (
        result["arn"]
        == server.arn("echo")
        == (f"arn:aws:lambda:{REGION}:123456789012:function:echo")
    )
    assert result["request_id"] == response["ResponseMetadata"]["RequestId"]
    assert server.invocations == [("echo", {"a": [1, 2]}, "ok")]


def test_invoke_without_payload_gives_an_empty_event(server: LocalLambdaServer) -> None:
    server.add_function("echo", echo)

    response = lambda_client(server.url).invoke(FunctionName="echo")

    assert json.loads(response["Payload"].read())["event"] == {}


@pytest.mark.parametrize("result", [None, "a string", 42, [1, "two"], {"nested": {"x": True}}])
def test_any_json_result_round_trips(server: LocalLambdaServer, result: Any) -> None:
    server.add_function("const", lambda event, context: result)

    response = lambda_client(server.url).invoke(FunctionName="const", Payload=b"{}")

    assert json.loads(response["Payload"].read()) == result


def test_handler_exception_is_an_unhandled_function_error(server: LocalLambdaServer) -> None:
    server.add_function("broken", failing)

    response = lambda_client(server.url).invoke(FunctionName="broken", Payload=b"{}")

    assert response["StatusCode"] == 200  # Lambda reports handler errors in a 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "KeyError"
    assert "client_id missing in broken" in error["errorMessage"]
    assert isinstance(error["stackTrace"], list)
    assert error["stackTrace"]
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert server.invocation_count("error") == 1
    assert server.invocation_count("ok") == 0


def test_unserializable_result_is_a_function_error(server: LocalLambdaServer) -> None:
    server.add_function("odd", lambda event, context: {1, 2})

    response = lambda_client(server.url).invoke(FunctionName="odd", Payload=b"{}")

    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "TypeError"


def test_unknown_function_is_resource_not_found(server: LocalLambdaServer) -> None:
    client = lambda_client(server.url)

    with pytest.raises(ClientError) as info:
        client.invoke(FunctionName="nobody", Payload=b"{}")

    error = info.value.response
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "nobody" in error["Error"]["Message"]
    assert isinstance(info.value, client.exceptions.ResourceNotFoundException)
    assert server.invocations == [("nobody", {}, "not found")]


def test_removed_function_is_resource_not_found(server: LocalLambdaServer) -> None:
    server.add_function("echo", echo)
    client = lambda_client(server.url)
    client.invoke(FunctionName="echo", Payload=b"{}")

    server.remove_function("echo")
    server.remove_function("echo")  # removing twice is harmless

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="echo", Payload=b"{}")
    assert [i.outcome for i in server.invocations] == ["ok", "not found"]


def test_throttle_next_answers_429_too_many_requests(server: LocalLambdaServer) -> None:
    server.add_function("echo", echo)
    client = lambda_client(server.url)
    server.throttle_next(2)

    for _ in range(2):
        with pytest.raises(ClientError) as info:
            client.invoke(FunctionName="echo", Payload=b"{}")
        assert info.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert isinstance(info.value, client.exceptions.TooManyRequestsException)

    response = client.invoke(FunctionName="echo", Payload=b"{}")  # throttling used up

    assert "FunctionError" not in response
    assert [i.outcome for i in server.invocations] == ["throttled", "throttled", "ok"]
    assert server.invocation_count("throttled") == 2


def test_throttling_applies_to_unknown_functions_too(server: LocalLambdaServer) -> None:
    server.throttle_next(1)

    with pytest.raises(ClientError) as info:
        lambda_client(server.url).invoke(FunctionName="nobody", Payload=b"{}")

    assert info.value.response["Error"]["Code"] == "TooManyRequestsException"


@pytest.mark.parametrize(
    "address",
    [
        f"arn:aws:lambda:{REGION}:123456789012:function:echo",
        f"arn:aws:lambda:{REGION}:123456789012:function:echo:$LATEST",
    ],
)
def test_function_addressed_by_arn(server: LocalLambdaServer, address: str) -> None:
    arn = server.add_function("echo", echo)

    response = lambda_client(server.url).invoke(FunctionName=address, Payload=b'{"k": 1}')

    assert "FunctionError" not in response
    result = json.loads(response["Payload"].read())
    assert result["function_name"] == "echo"
    assert result["arn"] == arn
    assert server.invocations[-1].function_name == "echo"


def test_invalid_json_payload_is_a_client_error(server: LocalLambdaServer) -> None:
    server.add_function("echo", echo)

    with pytest.raises(ClientError) as info:
        lambda_client(server.url).invoke(FunctionName="echo", Payload=b"{not json")

    assert info.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert server.invocations == []  # the handler never ran


def test_endpoint_from_aws_endpoint_url_lambda(
    server: LocalLambdaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", server.url)
    server.add_function("echo", echo)

    response = lambda_client(None).invoke(FunctionName="echo", Payload=b'{"via": "env"}')

    assert json.loads(response["Payload"].read())["event"] == {"via": "env"}


def test_other_routes_are_not_found(server: LocalLambdaServer) -> None:
    server.add_function("echo", echo)
    request = urllib.request.Request(f"{server.url}/2015-03-31/functions/echo/invocations")

    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)  # a GET

    assert info.value.code == 404
    assert info.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert server.invocations == []


def test_concurrent_invocations_are_all_recorded(server: LocalLambdaServer) -> None:
    server.add_function("echo", echo)
    client = lambda_client(server.url)

    def call(n: int) -> Any:
        payload = json.dumps({"n": n}).encode()
        return json.loads(client.invoke(FunctionName="echo", Payload=payload)["Payload"].read())

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(32)))

    assert [r["event"]["n"] for r in results] == list(range(32))
    assert len({r["request_id"] for r in results}) == 32
    assert server.invocation_count("ok") == 32
    server.reset_counters()
    assert server.invocation_count() == 0


def test_stopped_server_refuses_connections() -> None:
    server = LocalLambdaServer().start()
    server.add_function("echo", echo)
    url = server.url
    server.stop()
    server.stop()  # twice is safe

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(
            urllib.request.Request(f"{url}/2015-03-31/functions/echo/invocations", b"{}"),
            timeout=5,
        )
