"""A stand-in Token Dispenser: the TDS handler, and the whole stack on loopback.

`TokenDispenserHandler` follows the service's rules (REFERENCE.md §1): ``client_id``
must match ``^[a-zA-Z0-9]{3,32}$``; ``minimum_alive_secs`` is an integer from 0 to 3300
(300 if absent); the cached token for a client is returned while it has more than
``minimum_alive_secs`` left, else a new fake Launchpad token is minted and stored in the
DynamoDB table ``<prefix>-LaunchpadTokenDispenserCacheTable`` (hash key ``client_id``,
``token`` as a JSON string, ``time_to_live`` = ``expires_at``, with DynamoDB TTL on).

`LocalTokenDispenser` runs it all on 127.0.0.1: moto's server (SSM, DynamoDB), a
`LocalLambdaServer` serving the handler, and the SSM parameter
``/service/token-dispenser/<prefix>`` holding the function's ARN.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tokenprovider.core.clock import SYSTEM_CLOCK, Clock
from tokenprovider.testing.lambda_server import LambdaContext, LocalLambdaServer
from tokenprovider.testing.moto import MotoServer, require_testing
from tokenprovider.testing.running import Running

_CLIENT_ID = re.compile(r"[a-zA-Z0-9]{3,32}")
SSM_PATH = "/service/token-dispenser"


@functools.cache
def _data_loader() -> Any:
    loaders = require_testing("botocore.loaders", "tokenprovider.testing's AWS helpers")
    return loaders.create_loader()


def fake_session(region: str | None = "us-west-2") -> Any:
    """A boto3 session with fake keys (``testing``) for local stand-ins.

    Sessions made here share one botocore data loader, which is slow to build, so tests
    that make many sessions stay fast. ``session.events.register("before-call.*.*", f)``
    counts the calls made through it.
    """
    boto3 = require_testing("boto3", "tokenprovider.testing's AWS helpers")
    botocore_session = require_testing("botocore.session", "tokenprovider.testing's AWS helpers")
    core = botocore_session.get_session()
    core.register_component("data_loader", _data_loader())
    return boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=region,
        botocore_session=core,
    )


class TokenDispenserHandler:
    """The TDS Lambda handler, minting fake Launchpad tokens living ``lifetime`` seconds.

    ``double_encoded=True`` answers like older dispensers: a JSON string holding JSON.
    """

    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        *,
        lifetime: int = 3600,
        clock: Clock | None = None,
        double_encoded: bool = False,
    ) -> None:
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.lifetime = lifetime
        self.double_encoded = double_encoded
        self._clock = clock or SYSTEM_CLOCK
        self._lock = threading.Lock()
        self._issued: dict[str, float] = {}
        self.minted = 0

    def is_valid(self, token: str) -> bool:
        """Whether ``token`` was minted here and has not expired (for protected resources)."""
        with self._lock:
            expires_at = self._issued.get(token)
        return expires_at is not None and self._clock.time() < expires_at

    def __call__(self, event: Any, context: LambdaContext) -> Any:
        """Answer one invocation (raising, as the service does, on bad input)."""
        if not isinstance(event, dict):
            raise TypeError("the event must be a JSON object")
        client_id = event.get("client_id")
        if not isinstance(client_id, str) or not _CLIENT_ID.fullmatch(client_id):
            raise ValueError(f"Invalid client_id: {client_id!r} must match ^[a-zA-Z0-9]{{3,32}}$")
        minimum = event.get("minimum_alive_secs", 300)
        if isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 <= minimum <= 3300:
            raise ValueError(f"Invalid minimum_alive_secs: {minimum!r} must be 0 to 3300")
        if event.get("action") == "edl":
            document = self._edl(event)
        else:
            with self._lock:  # one mint at a time, like the service's conditional cache
                document = self._cached_or_new(client_id, minimum)
        return json.dumps(document) if self.double_encoded else document

    def _cached_or_new(self, client_id: str, minimum: int) -> dict[str, Any]:
        now = self._clock.time()
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={"client_id": {"S": client_id}}, ConsistentRead=True
        ).get("Item")
        if item is not None:
            cached: dict[str, Any] = json.loads(item["token"]["S"])
            if cached["expires_at"] - now > minimum:
                return cached
        document = self._mint(client_id, now)
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={
                "client_id": {"S": client_id},
                "token": {"S": json.dumps(document)},
                "time_to_live": {"N": str(document["expires_at"])},
            },
        )
        return document

    def _mint(self, client_id: str, now: float) -> dict[str, Any]:
        self.minted += 1
        created = int(now)
        token = secrets.token_urlsafe(32)
        self._issued[token] = created + self.lifetime
        return {
            "authlevel": 25,
            "cookiename": "SMSESSION",
            "session_idletimeout": self.lifetime,
            "session_maxtimeout": self.lifetime,
            "sm_token": token,
            "ssozone": "SM",
            "status": "success",
            "upn": f"{client_id}@example.invalid",
            "userdn": f"CN={client_id},OU=Services",
            "expires_at": created + self.lifetime,
            "created_at": created,
        }

    def _edl(self, event: dict[str, Any]) -> dict[str, Any]:
        for field in ("edl_user", "edl_pass", "cmr_env"):
            if not event.get(field):
                raise ValueError(f"action edl needs {field}")
        self.minted += 1
        now = int(self._clock.time())
        return {
            "access_token": "edl-" + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_at": now + self.lifetime,
            "created_at": now,
        }


class LocalTokenDispenser(Running):
    """The Token Dispenser stack on 127.0.0.1; `env` says how to point boto3 at it.

    >>> import os
    >>> from tokenprovider import TDSTokenProvider
    >>> with LocalTokenDispenser() as tds:
    ...     os.environ.update(tds.env)  # in a pytest test: monkeypatch.setenv each one
    ...     TDSTokenProvider("cmr.example.com", "myclient").token
    '...'
    """

    def __init__(
        self,
        *,
        prefix: str = "sit",
        region: str = "us-west-2",
        lifetime: int = 3600,
        clock: Clock | None = None,
        double_encoded: bool = False,
        moto: MotoServer | None = None,
    ) -> None:
        """``moto``: a running server to share (reset it first: the table must not exist)."""
        self.prefix = prefix
        self.region = region
        self.ssm_key = f"{SSM_PATH}/{prefix}"
        self.table_name = f"{prefix}-LaunchpadTokenDispenserCacheTable"
        self.function_name = f"{prefix}-token-dispenser"
        self.lambda_server = LocalLambdaServer(region=region)
        self._own_moto = moto is None
        self.moto = moto or MotoServer()
        self._settings = {"lifetime": lifetime, "clock": clock, "double_encoded": double_encoded}
        self.handler: TokenDispenserHandler | None = None
        self.arn = ""
        self._clients: dict[str, Any] = {}

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that send tokenprovider's AWS calls to this stack (with
        fake credentials). The region is in ``AWS_REGION`` only, as some runtimes set it:
        boto3 alone does not read it, so a boto3 client of your own needs
        ``region_name=stack.region`` (or use `client`)."""
        return {
            "AWS_ENDPOINT_URL_SSM": self.moto.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto.url,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_server.url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on this stack (made once per service)."""
        if service not in self._clients:
            url = self.lambda_server.url if service == "lambda" else self.moto.url
            self._clients[service] = fake_session(self.region).client(service, endpoint_url=url)
        return self._clients[service]

    def start(self) -> LocalTokenDispenser:
        """Start moto (unless one was given) and the Invoke endpoint; create the resources.
        Without the ``testing`` extra, a `MissingExtraError` saying what to install."""
        for module in ("moto.server", "boto3"):
            require_testing(module, "tokenprovider.testing.LocalTokenDispenser")
        if self._own_moto:
            self.moto.start()
            self.moto.reset()  # moto keeps its data per process, not per server
        self.lambda_server.start()
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName=self.table_name,
            KeySchema=[{"AttributeName": "client_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "client_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=self.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "time_to_live"},
        )
        self.handler = TokenDispenserHandler(dynamodb, self.table_name, **self._settings)  # type: ignore[arg-type]
        self.arn = self.lambda_server.add_function(self.function_name, self.handler)
        self.client("ssm").put_parameter(Name=self.ssm_key, Value=self.arn, Type="String")
        return self

    def publish(self, prefix: str, arn: str | None = None) -> str:
        """Publish another deployment's SSM parameter (to make discovery ambiguous)."""
        name = f"{SSM_PATH}/{prefix}"
        self.client("ssm").put_parameter(
            Name=name,
            Value=arn or self.lambda_server.arn(f"{prefix}-token-dispenser"),
            Type="String",
            Overwrite=True,
        )
        return name

    def stop(self) -> None:
        """Stop the Invoke endpoint (and moto, if this stack started it)."""
        self.lambda_server.stop()
        if self._own_moto:
            self.moto.stop()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a ``with`` block."""
    import os  # noqa: PLC0415

    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
