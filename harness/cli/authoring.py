"""The commands that help write scenarios without starting a browser: ``validate``, ``list``, ``schema``,
``docs`` and ``init``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import InputError
from harness.core.resources import bundled

if TYPE_CHECKING:
    from harness.cli import scaffold as scaffold_types


def default_paths() -> list[Path]:
    """``./scenarios`` when it exists, else the built-in catalogue."""
    local = Path.cwd() / "scenarios"
    return [local if local.is_dir() else bundled("scenarios")]


def scenario_paths(args: argparse.Namespace) -> list[Path]:
    """The paths named on the command line, else :func:`default_paths`."""
    return [Path(p) for p in args.paths] or default_paths()


def cmd_validate(args: argparse.Namespace) -> int:
    """Check scenario files; exit 2 on any problem."""
    from harness.scenario.loader import load_paths

    try:
        scenarios, errors = load_paths(scenario_paths(args))
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not scenarios and not errors:
        return _nothing_found(args)
    errors += _config_errors()
    for error in errors:
        print(error, file=sys.stderr)
    files = len({s.path for s in scenarios})
    if errors:
        count = sum(len(e.problems) for e in errors)
        print(f"\n{count} problem(s) in {len(errors)} file(s); {len(scenarios)} scenario(s) in {files} "
              "other file(s) are fine.", file=sys.stderr)
        return 2
    print(f"{len(scenarios)} scenario(s) in {files} file(s): all valid.")
    return 0


def _nothing_found(args: argparse.Namespace) -> int:
    """No scenario under the paths given: say what a scenario file is (a wrong folder is the usual cause)."""
    from harness.scenario.loader import no_scenarios_hint

    print(no_scenarios_hint(scenario_paths(args)), file=sys.stderr)
    return 2


def _config_errors() -> list[InputError]:
    """Problems in the mediafault.yaml that applies here and in the profile it names (checked by validate too)."""
    from harness.app.config import find_config, load_config
    from harness.app.profiles import get_profile

    try:
        app, path = load_config(find_config(Path.cwd()))
        if path is not None:
            dirs = (path.parent / app.profiles_dir,) if app.profiles_dir else ()
            get_profile(app.profile, dirs, path)
    except InputError as exc:
        return [exc]
    return []


def cmd_list(args: argparse.Namespace) -> int:
    """Every case with its route and the mechanism and fidelity of each condition."""
    from harness.app.profiles import get_profile
    from harness.run.plan import plan_case
    from harness.scenario.loader import load_paths
    from harness.scenario.model import ENGINES

    try:
        scenarios, errors = load_paths(scenario_paths(args))
        profile = get_profile(args.profile or "generic")
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not scenarios and not errors:
        return _nothing_found(args)
    for error in errors:
        print(error, file=sys.stderr)
    engines = args.engine or list(ENGINES)
    print(profile.summary())
    for source in scenarios:
        for engine in source.scenario.engines:
            if engine not in engines:
                continue
            plan = plan_case(source, engine, profile, grid=args.grid_url, app_url=args.app_url)
            skip = plan.skip_reason
            head = f"{plan.name}  [{'SKIP' if skip else plan.fidelity.value}]"
            route = f"{plan.route_info.route} ({plan.route_info.version})" if plan.route else "no route"
            print(f"{head}\n    {source.position}  route: {route}")
            for mech in plan.resolution.mechanisms:
                print(f"    {mech.condition}={mech.value}: {mech.fidelity.value}: {mech.how}")
            outcome = plan.expected.outcome
            if outcome and outcome != "none" and not plan.not_applicable:
                where = profile.provenance(outcome, engine)
                print(f"    outcome {outcome}: {plan.expected.code or '(no code)'}, {where}")
            if skip:
                print(f"    skipped: {skip}")
    return 2 if errors else 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of scenario files."""
    from harness.scenario.schema import scenario_schema

    text = json.dumps(scenario_schema(), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """Regenerate (or with --check, verify) the generated files in docs/."""
    from harness.cli.docgen import generated

    stale = []
    for path, text in generated(Path(args.dir)).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        print("stale: " + ", ".join(map(str, stale)) + "\nrun 'mediafault docs' to regenerate them", file=sys.stderr)
        return 1
    if not stale:
        print("docs are up to date")
    return 0


def _detect_surface(url: str | None, app_dir: str | None, call_button: str | None) -> scaffold_types.Proposal | None:
    """Propose the surface from a real denied call (see harness.run.discover); on failure, say why in one line
    and let init fall back to the defaults."""
    from harness.cli.scaffold import Proposal
    from harness.run.discover import DetectionFailed, detect

    print("looking for where the app shows errors: Chromium, microphone denied, one click on the call button…",
          flush=True)
    try:
        found = detect(url, app_dir, call_button)
    except DetectionFailed as exc:
        print(f"mediafault init: could not detect the error surface: {exc}; writing the default surface: selectors "
              "(see docs/your-own-app.md to set them)", file=sys.stderr, flush=True)
        return None
    for line in found.lines():
        print(line)
    return Proposal(found.page, found.call_button, found.surface)


def cmd_init(args: argparse.Namespace) -> int:
    """Write mediafault.yaml and starter scenarios for the user's app (asking on a terminal)."""
    from harness.cli import scaffold

    flags = {k: getattr(args, k) for k in ("url", "app_dir", "profile", "call_button", "code", "code_attribute",
                                           "message", "console", "telemetry")}
    ask = scaffold.terminal_ask if sys.stdin.isatty() and not args.no_input else None
    target = Path(args.dir)
    try:
        # An existing config means write() refuses anyway: do not start a browser only to be refused.
        refused = not args.force and (target / "mediafault.yaml").exists()
        answers = scaffold.gather(flags, ask, None if args.no_detect or refused else _detect_surface)
        written = scaffold.write(scaffold.files_for(answers, target), args.force)
    except scaffold.InitError as exc:
        print(f"mediafault init: {exc}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("\nmediafault init: stopped; nothing was written", file=sys.stderr)
        return 130
    for path in written:
        print(f"wrote {path}")
    print("\nnext:\n  mediafault validate            check the scenarios\n"
          "  mediafault run --engine chromium   run them (then change an expect: and see it fail)")
    return 0
