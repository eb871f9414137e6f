"""The bundled app's error catalogue (fixtures/app/profiles.js) says what the harness's profiles
(harness/app/profiles/*.yaml) expect: same outcomes, same codes, and messages the oracle accepts. The app
never reads the YAML, so without this check the two drift apart silently."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from harness.app.profiles import builtin_profiles
from harness.scenario.model import ENGINES
from tests.conftest import BUNDLED_APP

# The DOMException (or error) an outcome's message is built from, for messages the app computes.
ERROR_FOR = {"permission": "NotAllowedError", "not-found": "NotFoundError", "busy": "NotReadableError",
             "constraint": "OverconstrainedError", "unplugged": "NotReadableError", "device-error": "AbortError",
             "app-error": "TypeError"}

DUMP = """
const window = {};
require(process.argv[1]);
const out = {};
for (const [profile, outcomes] of Object.entries(window.SOFTPHONE_PROFILES)) {
  out[profile] = {};
  for (const [outcome, common] of Object.entries(outcomes)) {
    const err = {name: JSON.parse(process.argv[2])[outcome] || 'Error', message: 'the detail'};
    out[profile][outcome] = {};
    for (const engine of JSON.parse(process.argv[3])) {  // as softphone.js picks an engine's entry
      const entry = Object.assign({}, common, (common.engines || {})[engine] || {});
      out[profile][outcome][engine] = {code: entry.code,
        message: typeof entry.message === 'function' ? entry.message(err) : entry.message};
    }
  }
}
console.log(JSON.stringify(out));
"""


def _error_name(outcome: str) -> str:
    return next((name for key, name in ERROR_FOR.items() if key in outcome), "Error")


def app_catalogue() -> dict[str, dict[str, dict[str, dict[str, str]]]]:
    """profile → outcome → engine → the code and message the app shows there, read by running profiles.js
    in Node."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js here (apt-get install nodejs); it runs the app's profiles.js")
    outcomes = {o for p in builtin_profiles().values() for o in p.outcomes}
    names = json.dumps({o: _error_name(o) for o in outcomes})
    script = DUMP.replace("const window = {};", "global.window = {};")
    done = subprocess.run([node, "-e", script, str(BUNDLED_APP / "profiles.js"), names, json.dumps(ENGINES)],
                          capture_output=True, text=True, timeout=60, check=True)
    catalogue: dict[str, dict[str, dict[str, dict[str, str]]]] = json.loads(done.stdout)
    return catalogue


def test_app_profiles_agree_with_the_oracle() -> None:
    """Every built-in profile: the app has each outcome, with the oracle's code and a message it accepts."""
    app = app_catalogue()
    problems = []
    for name, profile in builtin_profiles().items():
        if name not in app:
            problems.append(f"{name}: not in profiles.js")
            continue
        for outcome, common in profile.outcomes.items():
            if outcome not in app[name]:
                problems.append(f"{name} {outcome}: not in profiles.js")
                continue
            for engine in ENGINES:
                surface, shown = common.on(engine), app[name][outcome][engine]
                where = f"{name} {outcome} on {engine}"
                if (shown["code"] or None) != surface.code:  # '' in the app: the SDK's error has no code
                    problems.append(f"{where}: code {shown['code']!r}, oracle {surface.code!r}")
                if not surface.message.matches(shown["message"]):
                    problems.append(f"{where}: message {shown['message']!r}, oracle {surface.message.describe()}")
        extra = set(app[name]) - set(profile.outcomes)
        problems += [f"{name} {outcome}: in profiles.js only" for outcome in sorted(extra)]
    assert not problems, "\n".join(problems)
