"""The ``tokenprovider`` argument parser: every command, its options and help."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from tokenprovider import __version__

#: Where token and header keep what they fetch (see docs/cli.md, "The token cache").
_CACHED = (
    "The token is kept for the next run in the user cache directory "
    "(~/.cache/tokenprovider/tokens, or under XDG_CACHE_HOME; files 0600, sealed when "
    "cache_key is set) unless the profile sets its own cache; --no-cache keeps it in "
    "memory only, and tokenprovider cache clear removes it."
)
_EPILOG = "exit codes: 0 ok, 1 authentication failed, 2 usage, 3 configuration error"


class _Parser(argparse.ArgumentParser):
    """A parser that reports arguments it does not know itself, with its own usage, and
    exits 2. argparse leaves them to the top parser, so ``tokenprovider token --bogus``
    would show the top-level usage; the parsers of commands are of this class too
    (``add_subparsers`` makes its parsers of the parent's class)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, unknown = super().parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        return parsed, unknown


def _common() -> _Parser:
    """Options every command accepts, before or after its name."""
    common = _Parser(add_help=False)
    common.add_argument(
        "--config",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="read FILE after the usual files (like TOKENPROVIDER_CONFIG)",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and debug logging on errors",
    )
    return common


def _profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        metavar="P",
        help="use [profiles.P.credentials] (default: TOKENPROVIDER_PROFILE, else [credentials])",
    )


def _no_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="fetch a new token and keep it in memory only (no file or configured cache)",
    )


def _target(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="the user file (the default)")
    where.add_argument(
        "--project", action="store_true", help="the project file, .tokenprovider.toml"
    )
    where.add_argument("--file", metavar="F", help="the file F")


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="tokenprovider",
        description="Fetch, cache and attach bearer tokens; inspect and edit configuration.",
        epilog=_EPILOG,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=summary, description=description, epilog=_EPILOG, parents=[common]
        )

    config = command(
        "config",
        "show, locate and edit configuration files",
        "Show the effective configuration (secrets masked), list the files searched, and "
        "write values. Writes are atomic, leave the file at mode 0600, refuse a file that "
        "does not parse, and do not keep comments.",
    )
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    def action(name: str, summary: str) -> argparse.ArgumentParser:
        return config_commands.add_parser(
            name, help=summary, description=summary, epilog=_EPILOG, parents=[common]
        )

    show = action("show", "print the effective configuration, secrets masked")
    _profile(show)
    show.add_argument(
        "--origin", action="store_true", help="note the file and line or variable of each value"
    )
    check = action(
        "check", "build the providers, reading no secret and fetching no token; list problems"
    )
    which = check.add_mutually_exclusive_group()
    which.add_argument(
        "--profile",
        metavar="P",
        help="check [profiles.P.credentials] (default: the active profile)",
    )
    which.add_argument("--all", action="store_true", help="check [credentials] and every profile")
    action("path", "list the files searched, in order, and which exist")
    set_ = action("set", "write KEY = VALUE (converted to the setting's type)")
    set_.add_argument("key", metavar="KEY", help="a dotted key, e.g. credentials.oauth.client_id")
    set_.add_argument("value", metavar="VALUE")
    _target(set_)
    unset = action("unset", "remove KEY")
    unset.add_argument("key", metavar="KEY")
    _target(unset)
    init = action("init", "write a starter [credentials] table for a provider")
    init.add_argument("--provider", required=True, metavar="NAME", help="e.g. oauth or jwt")
    _profile(init)
    init.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="settings to fill in")
    init.add_argument("--force", action="store_true", help="replace an existing table")
    _target(init)

    command(
        "providers",
        "list the registered providers and their settings",
        "List every provider (built-in, registered and plugins) with its settings, their "
        "types and defaults.",
    )
    token = command(
        "token",
        "print the token, for shell use",
        "Print the current token of the configured provider, e.g. TOKEN=$(tokenprovider token). "
        + _CACHED,
    )
    _profile(token)
    token.add_argument("--json", action="store_true", help="also the provider and expiry, as JSON")
    _no_cache(token)
    header = command(
        "header",
        "print the header line the provider attaches, for curl -H",
        'Print "Authorization: ..." (or, for a cookie-style TDS provider, "Cookie: ...") for '
        'the configured provider, e.g. curl -H "$(tokenprovider header)" URL. ' + _CACHED,
    )
    _profile(header)
    _no_cache(header)
    _login_commands(command)
    cache = command(
        "cache",
        "set up shared token caches, clear cached tokens",
        "Create what a shared token cache needs, such as the DynamoDB table, and remove "
        "the tokens the CLI cached.",
    )
    cache_commands = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    create = cache_commands.add_parser(
        "create-table",
        help='create a DynamoDB table for cache = "dynamodb:NAME" (TTL enabled)',
        description="Create the DynamoDB table NAME for DynamoDBTokenCache: on-demand "
        "billing, a string partition key, TTL on the ttl attribute. An existing table is "
        "left as it is (TTL is enabled if it was not).",
        epilog=_EPILOG,
        parents=[common],
    )
    create.add_argument("name", metavar="NAME", help="the table name")
    create.add_argument(
        "--region",
        help="AWS region (default: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's)",
    )
    create.add_argument("--aws-profile", metavar="P", help="AWS profile (default: AWS_PROFILE)")
    create.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="DynamoDB endpoint, e.g. DynamoDB Local or LocalStack (default: boto3's, "
        "from AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL)",
    )
    clear = cache_commands.add_parser(
        "clear",
        help="remove the cached token of a profile, so the next command fetches a new one",
        description="Remove the token that token and header cached for the profile: from "
        "the CLI cache in your user cache directory, or from the profile's own cache = "
        '"file..." directory. --all removes every token in the CLI cache directory instead, '
        "without reading any configuration (its salt and lock files stay: another process "
        "may hold a lock).",
        epilog=_EPILOG,
        parents=[common],
    )
    clear_which = clear.add_mutually_exclusive_group()
    clear_which.add_argument(
        "--profile",
        metavar="P",
        help="the profile whose token to remove (default: TOKENPROVIDER_PROFILE, else "
        "[credentials])",
    )
    clear_which.add_argument(
        "--all", action="store_true", help="every token in the CLI cache directory"
    )
    _demo_command(command)
    return parser


def _login_commands(command: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    """``login``, ``logout`` and ``status``: a person's login."""
    login = command(
        "login",
        "log a person in (browser or device code) and keep their tokens",
        "Log in for a profile whose [credentials.oauth] has grant_type "
        '"authorization_code" (a browser opens on the authorization URL, which is also '
        'printed) or "device_code" (a code to enter on another device). The refresh token '
        "is kept in the login store (the OS keyring, or files 0600 under the user data "
        "directory), which the output names; the profile's commands then renew tokens "
        "without asking again.",
    )
    _profile(login)
    login.add_argument(
        "--device",
        action="store_true",
        help="use the device code flow (for a machine without a browser)",
    )
    login.add_argument(
        "--no-browser",
        action="store_true",
        help="print the authorization URL without opening a browser",
    )
    logout = command(
        "logout",
        "forget a person's tokens, revoking them at the server",
        "Forget the profile's stored login; its refresh and access tokens are revoked "
        "first (RFC 7009) when the server has a revocation endpoint. Exits 1 if the server "
        "refused to revoke them (they are forgotten here all the same).",
    )
    _profile(logout)
    status = command(
        "status",
        "say who is logged in where, the scopes and the expiry",
        "Show the profile's login: who, the host and client, the scopes, when the access "
        "token expires, whether a refresh token is kept and where. Never shows a token. "
        "Exits 1 when nobody is logged in.",
    )
    _profile(status)


def _demo_command(command: Callable[[str, str, str], argparse.ArgumentParser]) -> None:
    """``demo``: the library at work on loopback."""
    demo = command(
        "demo",
        "show the library at work against local servers on 127.0.0.1",
        "Start a local OAuth2 server and a foreign host on 127.0.0.1, drive traffic through "
        "an OAuthTokenProvider and report what happened. Uses no network beyond loopback.",
    )
    demo.add_argument(
        "--tds",
        action="store_true",
        help="the Token Dispenser flow instead: SSM discovery, invoke, cache, refresh "
        "(moto and a local Lambda endpoint; needs the testing extra)",
    )
