"""An AWS Lambda function that calls an API with a token from the Token Dispenser (TDS).

Needs: ``pip install 'tokenprovider[aws]'`` for the function itself, and
``pip install 'tokenprovider[testing]'`` (moto) to run this file, whose ``__main__`` part
plays AWS on 127.0.0.1: moto's server for SSM and DynamoDB, a local Lambda Invoke
endpoint running the dispenser, and a local API. Nothing leaves the machine.

The rule for Lambda: build the provider once per container, outside the handler, and
reuse it. A container serves many invocations one after another, so the dispenser is
invoked once and every later invocation gets the token from memory, until the token is
due for a refresh (done ahead of expiry, by one invocation, while it is still good).
A provider built inside the handler would invoke the dispenser on every event.

Deploy with the handler ``lambda_tds_consumer.handler`` and these variables:

- ``API_URL``: the API the token is for (the provider sends it to that host only);
- ``TDS_CLIENT_ID``: your client id at the dispenser;
- ``TOKEN_DISPENSER_SSM_KEY``: the SSM parameter holding the dispenser's ARN;
- ``AWS_REGION``: set by the Lambda runtime.

The execution role needs ``ssm:GetParameter`` on the key and ``lambda:InvokeFunction``
on the dispenser.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import requests

from tokenprovider import TDSTokenProvider


# Built by the container's first invocation, then kept for its life. A module-level
# ``PROVIDER = TDSTokenProvider(...)`` does the same in Lambda (the constructor makes no
# AWS call); a function lets this file start its local AWS before the provider is built.
@functools.cache
def api_provider() -> TDSTokenProvider:
    """The container's one provider."""
    return TDSTokenProvider(
        os.environ["API_URL"],
        os.environ["TDS_CLIENT_ID"],
        token_dispenser_arn_ssm_key=os.environ["TOKEN_DISPENSER_SSM_KEY"],
        region=os.environ["AWS_REGION"],  # explicit: the runtime's region
        minimum_alive_secs=300,  # the least life a token handed out must have left
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Look up the collection named in the event."""
    provider = api_provider()
    response = requests.get(
        f"{provider.host.url}/search/collections",
        params={"short_name": event.get("short_name", "")},
        auth=provider,  # Authorization: <token>, as CMR expects (auth_style="raw")
        timeout=10,
    )
    return {"statusCode": response.status_code, "request_id": context.aws_request_id}


# -- running it locally -----------------------------------------------------------------------


def main() -> None:
    """Invoke the handler 5 times, as one warm container would, against local AWS."""
    # Only the local run needs the testing extra; the deployed function never imports it.
    from tokenprovider.testing import (  # noqa: PLC0415
        LambdaContext,
        LocalTokenDispenser,
        RecordingHTTPServer,
    )

    with LocalTokenDispenser(region="us-west-2") as tds, RecordingHTTPServer() as api:
        os.environ.update(
            {
                "API_URL": api.url,
                "TDS_CLIENT_ID": "podaacsvc",
                "TOKEN_DISPENSER_SSM_KEY": tds.ssm_key,  # /service/token-dispenser/sit
                # AWS, explicitly: the local endpoints, fake keys, the region, no profile.
                "AWS_ENDPOINT_URL_SSM": tds.moto.url,
                "AWS_ENDPOINT_URL_LAMBDA": tds.lambda_server.url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": tds.region,
                "AWS_CONFIG_FILE": os.devnull,  # ignore ~/.aws of this machine
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        os.environ.pop("AWS_PROFILE", None)

        for number in range(5):
            arn = f"arn:aws:lambda:{tds.region}:123456789012:function:consumer"
            context = LambdaContext("consumer", arn, aws_request_id=f"req-{number}")
            result = handler({"short_name": f"DATASET_{number}"}, context)
            print(f"invocation {number + 1}: {result}")

        assert tds.handler is not None
        sent = [r.headers.get("authorization", "") for r in api.requests]
        valid = "yes" if all(tds.handler.is_valid(token) for token in sent) else "no"
        print(f"API calls: {len(sent)}, each with a valid dispenser token: {valid}")
        print(f"dispenser invocations: {tds.lambda_server.invocation_count()}")  # 1 for all 5


if __name__ == "__main__":
    main()
