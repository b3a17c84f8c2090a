"""Migrate from the Metadata Bank token SDK to `tokenprovider.compat.metadata_bank`.

Needs: ``pip install 'tokenprovider[aws,crypto]'`` for the drop-in, and
``pip install 'tokenprovider[testing]'`` (moto) to run this file, whose ``main`` plays AWS
on 127.0.0.1. Nothing leaves the machine.

Before (the SDK: boto3, requests, cryptography, python-dotenv)::

    from getApiTokenEncrypted import refresh_token
    # as a Lambda handler: getApiTokenEncrypted.refresh_token

    token = refresh_token()["access_token"]

After: change the import, nothing else::

    from tokenprovider.compat.metadata_bank import refresh_token
    # as a Lambda handler: tokenprovider.compat.metadata_bank.refresh_token

    token = refresh_token()["access_token"]

Same environment variables (``SECRET_NAME``, ``URL``, ``SCOPE``, ``RETRIES``, ``INTERVAL``,
``IS_LOCAL``, ``TOKEN_TABLE``), same Secrets Manager secret (``consumerKey``,
``consumerSecret``), same ``Tokens`` table and the same answer. What changes: containers
share one token through the table (one token request per refresh for the whole fleet,
not one per container), tokens there are sealed with AES-256-GCM, only transient errors
are retried, and every HTTP call has a timeout. See docs/metadata-bank.md.

Here moto's server on 127.0.0.1 plays Secrets Manager and DynamoDB (reached with
``IS_LOCAL=true``, as the SDK reached LocalStack), and a `LocalOAuthServer` plays the
token endpoint. Two "containers" are simulated by forgetting the process's provider in
between.
"""

from __future__ import annotations

import json
import os

import boto3

from tokenprovider.compat import metadata_bank
from tokenprovider.compat.metadata_bank import refresh_token
from tokenprovider.testing import LambdaContext, LocalOAuthServer, MotoServer

CONSUMER_KEY, CONSUMER_SECRET = "mbconsumer", "example-consumer-secret"


def main() -> None:
    with MotoServer() as aws, LocalOAuthServer(clients={CONSUMER_KEY: CONSUMER_SECRET}) as endpoint:
        aws.reset()  # moto keeps its data per process
        os.environ.update(
            {
                # The SDK's settings, unchanged.
                "SECRET_NAME": "metadata-bank/api-credentials",
                "URL": endpoint.token_url,
                "SCOPE": "metadata.read",
                "TOKEN_TABLE": "Tokens",
                "IS_LOCAL": "true",  # use AWS_ENDPOINT_URL (LocalStack's URL if unset)
                # AWS, explicitly: the local endpoint, fake keys, the region, no profile.
                "AWS_ENDPOINT_URL": aws.url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-west-2",
                "AWS_CONFIG_FILE": os.devnull,  # ignore ~/.aws of this machine
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )
        os.environ.pop("AWS_PROFILE", None)

        # What the SDK's deployment already has: the secret and the table (key "Id").
        boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"]).create_secret(
            Name=os.environ["SECRET_NAME"],
            SecretString=json.dumps(
                {"consumerKey": CONSUMER_KEY, "consumerSecret": CONSUMER_SECRET}
            ),
        )
        boto3.client("dynamodb", region_name=os.environ["AWS_REGION"]).create_table(
            TableName="Tokens",
            AttributeDefinitions=[{"AttributeName": "Id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "Id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )

        # Container 1: called as a function, three times.
        first = [refresh_token()["access_token"] for _ in range(3)]
        answer = refresh_token()
        print(f"answer fields: {sorted(answer)}")  # as the SDK's, expiry in epoch ms
        print(f"container 1: {len(first)} calls, token requests so far: {endpoint.token_requests}")

        # Container 2: a cold start elsewhere in the fleet, called as a Lambda handler.
        metadata_bank.clear_cache()  # forget this process's provider, as a new container would
        context = LambdaContext(
            "refresh", "arn:aws:lambda:us-west-2:123456789012:function:refresh", "c0ffee"
        )
        second = refresh_token({}, context)["access_token"]
        print(
            f"container 2 got the same token from the table: {'yes' if second in first else 'no'}"
        )

        item = boto3.client("dynamodb", region_name=os.environ["AWS_REGION"]).scan(
            TableName="Tokens"
        )["Items"]
        stored = json.dumps(item)
        print(f"token readable in the table: {'yes' if second in stored else 'no (sealed)'}")
        print(f"token requests: {endpoint.token_requests}")  # 1 for both containers


if __name__ == "__main__":
    main()
