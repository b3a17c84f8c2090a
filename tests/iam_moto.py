"""moto's server on 127.0.0.1 that authorises requests as IAM would: the child program of
tests/test_iam_policies.py.

``python iam_moto.py LAMBDA_URL`` prints ``port N`` once it serves, and runs until stdin
closes. Authorisation stays off until ``POST /moto-api/reset-auth`` with ``0``; from then
on moto checks every request's SigV4 signature and the caller's IAM policies.

moto alone checks only the action, and not quite IAM's: for DynamoDB, SSM, Secrets
Manager and Lambda it evaluates each statement against the resource ``*`` (so a
statement naming an ARN never matches), calls Lambda's Invoke ``lambda:Invoke`` (IAM's
name is ``lambda:InvokeFunction``) and reads a policy's ``?`` as a regular expression.
Here each request carries the ARN of what it names (the table, parameter, secret or
function), Invoke is ``lambda:InvokeFunction``, and ``*`` and ``?`` match as IAM's
wildcards do. moto's own evaluation (statements, Allow and Deny) is used as it is.
An authorised Invoke is answered by the `LocalLambdaServer` at LAMBDA_URL (moto would
need Docker to run a function).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, unquote

from moto.awslambda.responses import LambdaResponse
from moto.dynamodb.responses import DynamoHandler
from moto.iam import access_control
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.server import ThreadedMotoServer
from moto.ssm.responses import SimpleSystemManagerResponse

#: IAM action names that differ from the API operation's.
_IAM_ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction"}
_INVOCATIONS = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


def _field(response: Any, name: str) -> str | None:
    body = response.body
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body or b"{}")
        except ValueError:
            return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _arn(response: Any, service: str, rest: str) -> str:
    return f"arn:aws:{service}:{response.region}:{response.current_account}:{rest}"


def _table(self: Any) -> str:
    name = _field(self, "TableName")
    return _arn(self, "dynamodb", f"table/{name}") if name else "*"


def _parameter(self: Any) -> str:
    name = _field(self, "Name") or _field(self, "Path")
    return _arn(self, "ssm", "parameter/" + name.lstrip("/")) if name else "*"


def _secret(self: Any) -> str:
    secret_id = _field(self, "SecretId")
    if secret_id is None:
        return "*"
    found = self.backend.secrets.get(secret_id)
    return found.arn if found is not None else _arn(self, "secretsmanager", f"secret:{secret_id}")


def _function(self: Any) -> str:
    match = _INVOCATIONS.search(self.path.split("?", 1)[0])
    if match is None:
        return "*"
    name = unquote(match.group("name"))
    return name if name.startswith("arn:") else _arn(self, "lambda", f"function:{name}")


def _wildcards(pattern: str, value: str) -> re.Match[str] | None:
    """IAM's matching: ``*`` any characters, ``?`` one, everything else literally."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch("".join(parts), value, flags=re.DOTALL)


def _invoke(lambda_url: str) -> Any:
    def invoke(self: Any) -> tuple[int, dict[str, str], bytes]:
        """Pass an authorised Invoke to the local Lambda server; relay its answer."""
        match = _INVOCATIONS.search(self.path.split("?", 1)[0])
        name = unquote(match.group("name")) if match else ""
        request = urllib.request.Request(
            f"{lambda_url}/2015-03-31/functions/{quote(name, safe='')}/invocations",
            data=self.body if isinstance(self.body, bytes) else str(self.body or "").encode(),
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
        try:
            with opener.open(request, timeout=10) as answer:
                status, headers, payload = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, headers, payload = error.code, error.headers, error.read()
        kept = {
            name: value
            for name, value in headers.items()
            if name.lower() in ("x-amz-function-error", "x-amzn-errortype", "content-type")
        }
        return status, {**kept, "status": str(status)}, payload

    return invoke


def _patch(lambda_url: str) -> None:
    DynamoHandler._determine_resource = _table  # type: ignore[attr-defined]
    SimpleSystemManagerResponse._determine_resource = _parameter  # type: ignore[attr-defined]
    SecretsManagerResponse._determine_resource = _secret  # type: ignore[attr-defined]
    LambdaResponse._determine_resource = _function  # type: ignore[attr-defined]
    LambdaResponse.invoke = _invoke(lambda_url)  # type: ignore[method-assign,assignment]
    access_control.IAMPolicyStatement._match = staticmethod(_wildcards)  # type: ignore[method-assign,assignment]
    original = access_control.IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._action = _IAM_ACTIONS.get(self._action, self._action)

    access_control.IAMRequestBase.__init__ = init  # type: ignore[method-assign]


def main() -> None:
    _patch(sys.argv[1])
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(f"port {server.get_host_and_port()[1]}", flush=True)
    sys.stdin.read()  # until the parent closes it (or ends)
    server.stop()


if __name__ == "__main__":
    main()
