"""``tokenprovider config ...``: show, check, locate and edit configuration files."""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path
from typing import Any

from tokenprovider.cli.output import EXIT_CONFIG, EXIT_OK, note, out
from tokenprovider.config.display import masked, render
from tokenprovider.config.loading import LoadedConfig, environment_settings, load, value_at
from tokenprovider.config.locations import default_project_file, search_path, user_file
from tokenprovider.config.profiles import (
    active_profile,
    credentials_path,
    reserved_profile_name,
    section,
)
from tokenprovider.config.toml_lines import dotted, parse_key
from tokenprovider.errors import ConfigurationError


def config_show(args: argparse.Namespace) -> int:
    """The effective configuration, masked, optionally with origins."""
    loaded = load(explicit=args.config)
    profile, why = active_profile(args.profile)
    data: dict[str, Any] = loaded.data
    if args.profile:
        path = credentials_path(loaded, profile)
        data = _subtree(loaded.data, path)
    origin_text = None
    if args.origin:

        def origin_text(key_path: tuple[str, ...]) -> str | None:
            origin = loaded.origin(key_path)
            return None if origin is None else f"from {origin}"

    out(f"# active profile: {profile} ({why})")
    if not data:
        out(
            "# nothing is configured; write a starter file with: tokenprovider config init "
            "--provider NAME KEY=VALUE ...; the files searched: tokenprovider config path"
        )
        return EXIT_OK
    shown, notes = masked(data)
    out(render(shown, origin_text, notes))
    _warn_if_unbuildable(loaded, [profile] if args.profile else None)
    return EXIT_OK


def _warn_if_unbuildable(loaded: LoadedConfig, profiles: list[str] | None) -> None:
    """One line on stderr if what ``config show`` showed (``profiles``, else all) would
    not build, as far as can be told without importing a provider."""
    from tokenprovider.config.check import every_profile, quick_problems  # noqa: PLC0415

    problems = quick_problems(loaded, every_profile(loaded) if profiles is None else profiles)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        command = "--all" if profiles is None else f"--profile {profiles[0]}"
        note(
            f"warning: this configuration would not build: {problems[0]}{more}; "
            f"see: tokenprovider config check {command}"
        )


def config_check(args: argparse.Namespace) -> int:
    """Build the providers without reading a secret or fetching a token; list every problem."""
    from tokenprovider.config.check import check, every_profile  # noqa: PLC0415

    loaded = load(explicit=args.config)
    if args.all:
        profiles = every_profile(loaded)
        if not profiles:
            raise ConfigurationError(
                "nothing is configured: no [credentials] table and no profile; "
                "see: tokenprovider config path"
            )
    else:
        profiles = [active_profile(args.profile)[0]]
    report = check(loaded, profiles)
    for problem in report.general:
        out(f"problem: {problem}")
    failed = []
    for result in report.profiles:
        for problem in result.problems:
            out(f"problem: profile {result.profile}: {problem}")
        for warning in result.notes:
            out(f"warning: profile {result.profile}: {warning}")
        if result.problems:
            failed.append(result.profile)
            continue
        detail = result.provider or "?"
        if result.unresolved:
            detail += (
                f"; not constructed, since {', '.join(result.unresolved)} "
                "are read only when it is built"
            )
        out(f"ok: profile {result.profile} ({detail})")
    count = report.problem_count
    if count:
        where = f" in profile(s) {', '.join(failed)}" if failed else ""
        note(f"error: {count} problem{'s' if count > 1 else ''} found{where}")
        return EXIT_CONFIG
    return EXIT_OK


def _subtree(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The table at ``path``, nested under its keys as in the whole document."""
    value: Any = section(data, path)
    for key in reversed(path):
        value = {key: value}
    result: dict[str, Any] = value
    return result


def config_path(args: argparse.Namespace) -> int:
    """The files searched, in order, and which exist."""
    files = search_path(os.environ, Path.cwd(), args.config)
    names = [name for name, _, _ in environment_settings(os.environ)]
    states = [_state(config_file.path) for config_file in files]  # errors before output
    out("files, later wins:")
    for config_file, state in zip(files, states, strict=True):
        out(f"  {config_file.kind:<9} {config_file.path}  ({state})")
    out("then environment variables: " + (", ".join(names) if names else "none set"))
    return EXIT_OK


def _state(path: Path) -> str:
    """Whether ``path`` exists, for ``config path``; an unusable path is an error."""
    import stat  # noqa: PLC0415

    from tokenprovider._private_files import file_kind  # noqa: PLC0415

    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "not found"
    except OSError as exc:
        raise ConfigurationError(
            f"configuration file {path} cannot be checked ({exc.strerror or exc})"
        ) from None
    except ValueError:  # a NUL in the path
        raise ConfigurationError(f"configuration file {path!r} is not a usable path") from None
    if not stat.S_ISREG(mode):
        return f"{file_kind(mode)}, not a regular file"
    try:  # permissions, an ACL, a security module...: only opening it tells
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)))
    except OSError as exc:
        return f"exists, but cannot be read: {exc.strerror or exc}"
    return "exists"


def _target_file(args: argparse.Namespace) -> tuple[Path, Path]:
    """The file named (``--file``, ``--project``, else the user file) and the file a write
    replaces (the same, or a symbolic link's target; see `writing.write_target`)."""
    from tokenprovider._private_files import expand_user  # noqa: PLC0415
    from tokenprovider.config.writing import write_target  # noqa: PLC0415

    if args.file:
        try:
            named = expand_user(args.file)
        except ValueError as exc:
            raise ConfigurationError(f"--file {args.file}: {exc}") from None
    elif args.project:
        named = default_project_file(Path.cwd())
    else:
        named = user_file(os.environ)
    return named, write_target(named)


def _key(text: str) -> tuple[str, ...]:
    try:
        return parse_key(text)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _write(target: Path, document: dict[str, Any], had_comments: bool) -> None:
    from tokenprovider.config.writing import write_atomic  # noqa: PLC0415

    write_atomic(target, document)
    if had_comments:
        note(f"note: comments in {target} were not kept (tomli-w cannot write them)")


def config_set(args: argparse.Namespace) -> int:
    """Write one value, converted to the type its setting declares."""
    from tokenprovider.config.keys import value_for  # noqa: PLC0415
    from tokenprovider.config.writing import read_for_update, set_value  # noqa: PLC0415

    path = _key(args.key)
    value = value_for(path, args.value)
    _check_profile_name(path)
    named, target = _target_file(args)
    document, had_comments = read_for_update(target)
    changed = copy.deepcopy(document)
    set_value(changed, path, value)
    _check_setting(changed, path, target.parent)
    _write(target, changed, had_comments)
    out(f"set {dotted(path)} in {named}")
    _warn_literal_secret(path, value, named)
    return EXIT_OK


def _check_profile_name(path: tuple[str, ...]) -> None:
    """Refuse a key of a profile that may not be named so (`reserved_profile_name`)."""
    reason = reserved_profile_name(path[1]) if path[:1] == ("profiles",) and path[1:] else None
    if reason is not None:
        instead = dotted(("credentials", *path[3:])) if len(path) > 3 else "credentials.KEY"
        raise ConfigurationError(f"{dotted(path)}: {reason}; set {instead} instead")


def _check_setting(document: dict[str, Any], path: tuple[str, ...], directory: Path) -> None:
    """Refuse a value that `config check` would find a problem with, in ``document`` (the
    file as it would be written): only problems about the key at ``path``, so that a
    table can be written key by key (see `build.check_section`'s probe)."""
    from tokenprovider.config.build import check_section  # noqa: PLC0415
    from tokenprovider.config.keys import credentials_prefix  # noqa: PLC0415

    table_path = path[: credentials_prefix(path)]
    table = value_at(document, table_path)
    checked = check_section(table, table_path, cwd=directory, probe=True)
    about = checked.problems_about(path)
    if path[len(table_path) :] == ("domain",) and isinstance(table, dict) and "scheme" in table:
        # A domain URL whose scheme contradicts scheme = is noted as about the scheme.
        about += checked.problems_about((*table_path, "scheme"))
    if about:
        raise ConfigurationError(
            f"{dotted(path)} was not set: " + "; ".join(dict.fromkeys(map(str, about)))
        )


def _warn_literal_secret(path: tuple[str, ...], value: Any, target: Path) -> None:
    from tokenprovider.config.loading import is_literal_secret  # noqa: PLC0415

    if is_literal_secret(path, value):
        note(
            f"note: {dotted(path)} is stored as a literal secret in {target} (mode 0600); "
            "a reference such as env:NAME or file:PATH keeps it out of the file"
        )


def config_unset(args: argparse.Namespace) -> int:
    """Remove one value (and tables left empty)."""
    from tokenprovider.config.writing import read_for_update, unset_value  # noqa: PLC0415

    path = _key(args.key)
    named, target = _target_file(args)
    document, had_comments = read_for_update(target)
    if not unset_value(document, path):
        raise ConfigurationError(f"{dotted(path)} is not set in {named}")
    _write(target, document, had_comments)
    out(f"removed {dotted(path)} from {named}")
    return EXIT_OK


def config_init(args: argparse.Namespace) -> int:
    """Write a starter credentials table for one provider, without prompting."""
    from tokenprovider.config.keys import value_for  # noqa: PLC0415
    from tokenprovider.config.known import SECTION_KEYS  # noqa: PLC0415
    from tokenprovider.config.params import parameters  # noqa: PLC0415
    from tokenprovider.config.registry import registry  # noqa: PLC0415
    from tokenprovider.config.writing import read_for_update, set_value  # noqa: PLC0415

    reason = None if args.profile is None else reserved_profile_name(args.profile)
    if reason is not None:
        raise ConfigurationError(
            f"--profile {args.profile}: {reason}; run config init without --profile, or name "
            "another profile"
        )
    section = ("profiles", args.profile, "credentials") if args.profile else ("credentials",)
    cls = registry.get(args.provider)
    if cls is None:
        from tokenprovider._suggest import did_you_mean  # noqa: PLC0415

        known = registry.names()
        raise ConfigurationError(
            f"--provider {args.provider}: no such provider"
            f"{did_you_mean(args.provider, known)}; known providers: {', '.join(known)}"
        )
    table: dict[str, Any] = {}
    for item in args.settings:
        key, sep, text = item.partition("=")
        if not sep:
            raise ConfigurationError(f"{item!r} is not KEY=VALUE")
        key_path = _key(key)
        if key_path[0] not in SECTION_KEYS:
            key_path = (args.provider, *key_path)
        set_value(table, key_path, value_for((*section, *key_path), text))
    table.setdefault(args.provider, {})
    missing = [] if "domain" in table else ["domain"]
    missing += [
        p.name
        for p in parameters(cls).values()
        if p.required and p.name not in table[args.provider]
    ]
    if missing:
        given = " ".join(f"{key}=VALUE" for key in missing)
        raise ConfigurationError(
            f"[{dotted(section)}] was not written: it still needs {', '.join(missing)}; "
            f"give them as KEY=VALUE: tokenprovider config init --provider {args.provider} "
            f"{given}"
        )
    named, target = _target_file(args)
    _check_starter(table, section, target.parent)
    document, had_comments = read_for_update(target)
    existing = value_at(document, section)
    if existing is not None and not args.force:
        raise ConfigurationError(
            f"{named} already has [{dotted(section)}]; change it with tokenprovider config "
            "set, or replace it with --force"
        )
    set_value(document, section, table)
    _write(target, document, had_comments)
    out(f"wrote [{dotted(section)}] with provider {args.provider} to {named}")
    return EXIT_OK


def _check_starter(table: dict[str, Any], section: tuple[str, ...], directory: Path) -> None:
    """Refuse a starter table that `config check` would not accept (nothing is read);
    what it only notes (no AWS region in this shell) is said, not refused."""
    from tokenprovider.config.build import check_section  # noqa: PLC0415

    checked = check_section(table, section, cwd=directory)
    if checked.problems:
        raise ConfigurationError(
            f"[{dotted(section)}] was not written, since it would not build: "
            + "; ".join(map(str, checked.problems))
        )
    for text in checked.notes:
        note(f"note: {text}")
