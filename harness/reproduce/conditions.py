"""Conditions → mechanisms: how each ``given`` value is reproduced on each engine, and how faithfully.

Every condition resolves to exactly one :class:`Mechanism` per engine: ``native`` (the browser's own
machinery), ``emulated`` (a page-level shim that mimics the browser) or ``unsupported`` (the case is
skipped with the reason). This table is the one place those facts live; ``mediafault list``, the report
and ``docs/support-matrix.md`` all read it.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from harness.app.server import INSECURE_HOST
from harness.reproduce.media import TONE_HZ, media_file
from harness.reproduce.netlab.lab import APP_PORT, SERVER_IP, userns_available
from harness.scenario.model import SHAPES, AudioFile, Device, Given, PageSpec, Permission


class Fidelity(StrEnum):
    """How real a reproduction is."""

    native = "native"
    emulated = "emulated"
    unsupported = "unsupported"


@dataclass(frozen=True)
class Mechanism:
    """How one condition value is reproduced on one engine."""

    condition: str  # "permission.microphone"
    value: str  # "denied"
    fidelity: Fidelity
    how: str  # one line for people: "CDP Browser.setPermission(denied) on the case's context"
    launch_args: tuple[str, ...] = ()  # browser command-line switches (Chromium)
    prefs: tuple[tuple[str, Any], ...] = ()  # browser preferences at launch (Firefox)
    profile_prefs: tuple[tuple[str, Any], ...] = ()  # Chromium profile Preferences (needs a persistent profile)
    headed: bool = False  # needs a real window (on the harness's own virtual display)
    permission: str | None = None  # runtime permission setting for the context: granted | denied | prompt
    # Firefox: the same state as a permission of the app's own origin (granted | denied), which lets cases of
    # different states share one browser; used instead of ``prefs`` where the harness picks the origin.
    site_permission: str | None = None
    shim: tuple[tuple[str, Any], ...] = ()  # settings for the page shim (emulation)
    # What navigator.permissions.query must answer once this is in effect; the runner checks it so a
    # mechanism that silently did nothing breaks the case instead of letting it pass for the wrong reason.
    query_state: str | None = None
    fault: str | None = None  # mid-call action: "permission-denied" (runtime permission) or "shim:<name>"
    netlab: bool = False  # the browser runs inside the network lab

    @property
    def permission_name(self) -> str:
        """The permission this mechanism sets or checks: ``camera`` for ``permission.camera``, else the
        microphone's (which every other condition's query_state is about)."""
        return self.condition.split(".", 1)[1] if self.condition.startswith("permission.") else "microphone"

    def label(self) -> str:
        """``permission.microphone=denied: native (CDP …)``."""
        return f"{self.condition}={self.value}: {self.fidelity.value} ({self.how})"


@dataclass(frozen=True)
class Host:
    """Facts about the machine that change how a condition is reproduced."""

    capture_device: bool = False  # real sound-capture hardware: "no microphone" cannot be native
    camera_device: bool = False  # a real camera (/dev/video*): Firefox's "no camera" switch is unproven there
    display: bool = True  # a virtual display can be started: headed browsers possible
    pulse: bool = False  # a PulseAudio/PipeWire server: Chromium ignores its ALSA device switch
    namespaces: bool = True  # root, or unprivileged user namespaces: the network lab can be built

    @classmethod
    def here(cls) -> Host:
        """This machine."""
        return _host_here()


@cache
def _host_here() -> Host:
    pulse = bool(os.environ.get("PULSE_SERVER")) or bool(glob.glob("/run/user/*/pulse/native"))
    return Host(capture_device=bool(glob.glob("/dev/snd/pcmC*D*c")), camera_device=bool(glob.glob("/dev/video*")),
                display=bool(os.environ.get("DISPLAY")) or shutil.which("Xvfb") is not None, pulse=pulse,
                namespaces=os.geteuid() == 0 or userns_available())


# What each engine's getUserMedia says, word for word, so emulation is indistinguishable to the app.
MESSAGES: dict[str, dict[str, str]] = {
    "chromium": {"NotFoundError": "Requested device not found", "NotReadableError": "Could not start audio source",
                 "NotAllowedError": "Permission denied", "OverconstrainedError": ""},
    "firefox": {"NotFoundError": "The object can not be found here.",
                "NotReadableError": "Failed to allocate audiosource",
                "NotAllowedError": "The request is not allowed by the user agent or the platform in the current "
                                   "context.",
                "OverconstrainedError": "Constraints could be not satisfied."},
    "webkit": {"NotFoundError": "The object can not be found here.",
               "NotReadableError": "The I/O read operation failed.",
               "NotAllowedError": "The request is not allowed by the user agent or the platform in the current "
                                  "context, possibly because the user denied permission.",
               "OverconstrainedError": "Invalid constraint"},
}


# Where a camera failure is worded differently from the microphone's.
VIDEO_MESSAGES: dict[str, dict[str, str]] = {
    "chromium": {"NotReadableError": "Could not start video source"},
    "firefox": {"NotReadableError": "Failed to allocate videosource"},
    "webkit": {},
}


def _shim(engine: str, condition: str, value: str, how: str, **settings: Any) -> Mechanism:
    """An emulated mechanism: the page shim, speaking this engine's exact error messages."""
    messages = tuple(sorted(MESSAGES[engine].items()))
    video = tuple(sorted(VIDEO_MESSAGES[engine].items()))
    return Mechanism(condition, value, Fidelity.emulated, f"page shim: {how}",
                     shim=(*tuple(sorted(settings.items())), ("messages", messages), ("videoMessages", video)))


def _unsupported(condition: str, value: str, reason: str) -> Mechanism:
    return Mechanism(condition, value, Fidelity.unsupported, reason)


def _native(condition: str, value: str, how: str, **kw: Any) -> Mechanism:
    return Mechanism(condition, value, Fidelity.native, how, **kw)


Resolver = Callable[[str, str, Host], Mechanism]  # (engine, value, host) → mechanism

FAKE_DEVICES = "--use-fake-device-for-media-stream"  # Chromium's fake capture devices; may carry options
# Firefox's fake capture streams, with its mock audio backend: without a sound card AudioContext never runs,
# so an app could not read levels; with one, as on a user's machine, it does.
FIREFOX_FAKE = (("media.navigator.streams.fake", True), ("media.cubeb.force_mock_context", True))
# Given to every launch of the engine, so that the cases whose condition needs them share the default
# browser rather than each starting one of its own (a Firefox launch costs 3 CPU-seconds): the harness's own
# insecure host name resolves to loopback (no one else's app uses that name), and Firefox's fake microphone
# plays the tone at TONE_HZ (its built-in fake signal is a tone anyway, at 1 kHz by default).
CHROMIUM_INSECURE_HOST = f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"
FIREFOX_INSECURE_HOST = ("network.dns.localDomains", INSECURE_HOST)
FIREFOX_TONE = ("media.navigator.audio.fake_frequency", TONE_HZ)
EVERY_LAUNCH_ARGS: dict[str, tuple[str, ...]] = {"chromium": (CHROMIUM_INSECURE_HOST,)}
EVERY_LAUNCH_PREFS: dict[str, tuple[tuple[str, Any], ...]] = {"firefox": (FIREFOX_INSECURE_HOST, FIREFOX_TONE)}


def merge_switches(args: Sequence[str]) -> list[str]:
    """Chromium switches in order, without repeats; a switch given with options (``--x=a``) replaces the
    same switch given bare (``--x``), since Chromium would keep only one of them."""
    named = {a.split("=", 1)[0] for a in args if "=" in a}
    out: list[str] = []
    for arg in args:
        if arg not in out and arg not in named:
            out.append(arg)
    return out

# ------------------------------------------------------------------------------------------ permission


@dataclass(frozen=True)
class Capture:
    """The names one capture kind goes by in each browser's machinery (microphone or camera)."""

    permission: str  # Permissions API / CDP / WebDriver name
    chromium_setting: str  # Chromium content setting
    chromium_policy: str  # the enterprise policies that enforce a block
    firefox_pref: str
    firefox_policy: str
    shim: dict[str, str]  # condition value → page-shim setting

    def shim_key(self, what: str) -> str:
        """The shim setting for ``deny`` / ``prompt`` / ``none`` / ``busy`` / ``overconstrained``."""
        return self.shim[what]


CAPTURE: dict[str, Capture] = {
    "microphone": Capture("microphone", "media_stream_mic", "DefaultMediaStreamSetting / AudioCaptureAllowed",
                          "permissions.default.microphone", "Permissions.Microphone.BlockNewRequests",
                          {"deny": "deny", "prompt": "prompt", "none": "noMicrophone", "busy": "busy",
                           "overconstrained": "overconstrained"}),
    "camera": Capture("camera", "media_stream_camera", "DefaultMediaStreamSetting / VideoCaptureAllowed",
                      "permissions.default.camera", "Permissions.Camera.BlockNewRequests",
                      {"deny": "cameraDeny", "prompt": "cameraPrompt", "none": "noCamera", "busy": "cameraBusy",
                       "overconstrained": "cameraOverconstrained"}),
}


# Firefox's capability numbers for a permission (in its prefs and its site permissions file).
FIREFOX_SITE_CAPABILITY = {"granted": 1, "denied": 2}
# With this, Firefox's default-permissions file applies to every new context; without it (what WebDriver BiDi
# sets), only to the default one, and Playwright's contexts are BiDi user contexts.
FIREFOX_SITE_PREFS = (("permissions.isolateBy.userContext", False),)
FIREFOX_SITE_FILE_PREF = "permissions.manager.defaultsUrl"


def firefox_site_permissions(origins: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> str:
    """Firefox's default-permissions file (read once, at start-up) for ``(origin, ((permission, state), …))``."""
    return "".join(f"origin\t{name}\t{FIREFOX_SITE_CAPABILITY[state]}\t{origin}\n"
                   for origin, states in origins for name, state in states)


def _permission(kind: Capture, engine: str, value: str, host: Host) -> Mechanism:
    c = f"permission.{kind.permission}"
    if engine == "chromium":
        if value in ("granted", "denied", "dismissed"):
            setting = {"granted": "granted", "denied": "denied", "dismissed": "prompt"}[value]
            how = {"granted": "CDP Browser.setPermission(granted) on the case's context",
                   "denied": "CDP Browser.setPermission(denied) on the case's context: 'Permission denied'",
                   "dismissed": "CDP Browser.setPermission(prompt): Chromium answers 'Permission dismissed'"}[value]
            return _native(c, value, how, permission=setting, query_state=setting)
        if value == "policy":
            return _native(c, value, f"profile default setting {kind.chromium_setting}=block (what the "
                           f"{kind.chromium_policy} policies enforce)",
                           profile_prefs=((f"profile.default_content_setting_values.{kind.chromium_setting}", 2),),
                           query_state="denied")
        if host.display:
            return _native(c, value, "headed Chromium on a virtual display: the real permission bubble "
                           "stays open", headed=True, query_state="prompt")
        return _shim(engine, c, value, "getUserMedia never settles, permissions.query says 'prompt' "
                     "(no virtual display for a real bubble)", **{kind.shim_key("prompt"): True})
    if engine == "firefox":
        if value == "dismissed":
            return _unsupported(c, value, "Firefox over WebDriver BiDi cannot answer or dismiss its permission "
                                "prompt, and Firefox does not tell a dismissal from a block")
        if value == "prompt":
            return _native(c, value, "no permission preference: Firefox shows its prompt and nobody answers",
                           query_state="prompt")
        state = "granted" if value == "granted" else "denied"
        pref = FIREFOX_SITE_CAPABILITY[state]
        how = (f"the app's origin {'allowed' if state == 'granted' else 'blocked'} in Firefox's site permissions file "
               f"(pref {kind.firefox_pref}={pref} at launch where the harness does not choose the origin: "
               "app.url, the network lab, a Grid)")
        if value == "policy":
            how += f"; what the {kind.firefox_policy} enterprise policy sets"
        return _native(c, value, how, prefs=((kind.firefox_pref, pref),), site_permission=state,
                       query_state=state)
    if engine == "webkit":
        if value == "granted":
            return _native(c, value, "automation sessions grant getUserMedia")
        if value in ("denied", "policy"):
            # The inspector's Automation.setSessionPermissions can deny getUserMedia natively, but then
            # permissions.query keeps answering 'prompt', which no blocked site shows a real user.
            return _shim(engine, c, value, "getUserMedia rejects NotAllowedError and permissions.query says "
                         "'denied' (WebKitWebDriver has no permission command; the inspector's session-wide deny "
                         "leaves permissions.query at 'prompt', unlike a blocked site)",
                         **{kind.shim_key("deny"): True})
        if value == "prompt":
            return _shim(engine, c, value, "getUserMedia never settles, permissions.query says 'prompt'",
                         **{kind.shim_key("prompt"): True})
        return _unsupported(c, value, "WebKit does not tell a dismissed prompt from a denial")
    return _unsupported(c, value, f"no route for {engine}")


def permission_microphone(engine: str, value: str, host: Host) -> Mechanism:
    """``permission.microphone``."""
    return _permission(CAPTURE["microphone"], engine, value, host)


def permission_camera(engine: str, value: str, host: Host) -> Mechanism:
    """``permission.camera`` (only for scenarios that use the camera)."""
    return _permission(CAPTURE["camera"], engine, value, host)


# -------------------------------------------------------------------------------------------- devices


def device_microphone(engine: str, value: str, host: Host) -> Mechanism:
    """``device.microphone``."""
    c = "device.microphone"
    kind = CAPTURE["microphone"]
    if value == "overconstrained":
        return _shim(engine, c, value, "getUserMedia rejects OverconstrainedError (constraint 'deviceId')",
                     **{kind.shim_key("overconstrained"): True})
    if engine == "chromium":
        if value == "default":
            return _native(c, value, "fake capture device (--use-fake-device-for-media-stream)",
                           launch_args=(FAKE_DEVICES,))
        if value == "none":
            if not host.capture_device:
                return _native(c, value, "no fake device and no capture hardware on this machine: NotFoundError")
            return _shim(engine, c, value, "getUserMedia rejects NotFoundError, no microphone is listed "
                         "(this machine has a real microphone)", **{kind.shim_key("none"): True})
        if not host.pulse and not host.capture_device:
            return _native(c, value, "ALSA capture device that cannot be opened (--alsa-input-device): "
                           "NotReadableError 'Could not start audio source'",
                           launch_args=("--alsa-input-device=mediafault-busy",))
        return _shim(engine, c, value, "getUserMedia rejects NotReadableError (the ALSA switch does not apply "
                     "with a sound server or real hardware)", **{kind.shim_key("busy"): True})
    if engine == "firefox":
        if value == "default":
            return _native(c, value, "fake stream (pref media.navigator.streams.fake; mock audio output, pref "
                           "media.cubeb.force_mock_context)", prefs=FIREFOX_FAKE)
        if value == "none":
            if not host.capture_device:
                return _native(c, value, "no fake stream and no capture hardware on this machine: NotFoundError",
                               prefs=(("media.navigator.streams.fake", False),))
            return _shim(engine, c, value, "getUserMedia rejects NotFoundError (this machine has a real "
                         "microphone)", **{kind.shim_key("none"): True})
        return _shim(engine, c, value, "getUserMedia rejects NotReadableError (Firefox has no switch for a "
                     "busy device)", **{kind.shim_key("busy"): True})
    if engine == "webkit":
        if value == "default":
            return _native(c, value, "WebKit mock capture devices (--enable-mock-capture-devices)")
        if value == "none":
            return _shim(engine, c, value, "getUserMedia rejects NotFoundError, no microphone is listed (WebKit "
                         "reports OverconstrainedError for a missing device)", **{kind.shim_key("none"): True})
        return _shim(engine, c, value, "getUserMedia rejects NotReadableError (WebKit mock devices cannot be "
                     "busy)", **{kind.shim_key("busy"): True})
    return _unsupported(c, value, f"no route for {engine}")


def device_camera(engine: str, value: str, host: Host) -> Mechanism:
    """``device.camera`` (only for scenarios that use the camera)."""
    c = "device.camera"
    kind = CAPTURE["camera"]
    if value == "overconstrained":
        return _shim(engine, c, value, "getUserMedia rejects OverconstrainedError (constraint 'deviceId') for "
                     "video", **{kind.shim_key("overconstrained"): True})
    if value == "busy":
        return _shim(engine, c, value, "getUserMedia rejects NotReadableError for video (no browser has a "
                     "switch for a camera in use)", **{kind.shim_key("busy"): True})
    if engine == "chromium":
        if value == "default":
            return _native(c, value, "fake capture device (--use-fake-device-for-media-stream): a test-pattern "
                           "camera", launch_args=(FAKE_DEVICES,))
        return _native(c, value, "fake devices without a camera (--use-fake-device-for-media-stream="
                       "device-count=0 removes the video devices only): NotFoundError",
                       launch_args=(f"{FAKE_DEVICES}=device-count=0",))
    if engine == "firefox":
        if value == "default":
            return _native(c, value, "fake stream (pref media.navigator.streams.fake): a coloured test picture",
                           prefs=FIREFOX_FAKE)
        if not host.camera_device:
            # The fake microphone stays; the video source is looked for under a name no device has.
            return _native(c, value, "fake streams with the video loopback device pointed at a device that "
                           "does not exist (pref media.video_loopback_dev): NotFoundError, no camera listed",
                           prefs=(*FIREFOX_FAKE, ("media.video_loopback_dev", "mediafault-no-camera")))
        return _shim(engine, c, value, "getUserMedia rejects NotFoundError for video, no camera is listed (this "
                     "machine has a real camera)", **{kind.shim_key("none"): True})
    if engine == "webkit":
        if value == "default":
            return _native(c, value, "WebKit mock capture devices: 'Mock video device 1'")
        return _shim(engine, c, value, "getUserMedia rejects NotFoundError for video, no camera is listed (WebKit's "
                     "mock devices are one switch for microphone and camera)", **{kind.shim_key("none"): True})
    return _unsupported(c, value, f"no route for {engine}")


def device_audio(engine: str, value: str, host: Host) -> Mechanism:
    """``device.audio``: what the fake microphone picks up (a file value is its absolute path)."""
    c = "device.audio"
    if value == "default":
        return _native(c, value, "the engine's built-in fake signal")
    if engine == "chromium":
        path = media_file(value) if value in ("silent", "tone") else value
        return _native(c, _short(value), f"--use-file-for-fake-audio-capture={Path(path).name}",
                       launch_args=(f"--use-file-for-fake-audio-capture={path}",))
    if engine == "firefox":
        if value == "tone":
            return _native(c, value, f"the fake stream's tone at {TONE_HZ} Hz (pref "
                           "media.navigator.audio.fake_frequency, set on every launch)",
                           prefs=(FIREFOX_TONE, ("media.cubeb.force_mock_context", True)))
        if value == "silent":
            # A mock audio backend keeps AudioContext running without a sound card, so levels can be read.
            return replace(_shim(engine, c, value, "the microphone track carries silence (Firefox's fake "
                                 "stream is always a tone)", silent=True),
                           prefs=(("media.cubeb.force_mock_context", True),))
        return _unsupported(c, _short(value), "Firefox plays only its built-in tone; a WAV file needs an OS "
                            "loopback device")
    if engine == "webkit":
        if value == "silent":
            return _shim(engine, c, value, "the microphone track carries silence", silent=True)
        return _unsupported(c, _short(value), "WebKit's mock microphone has a fixed signal")
    return _unsupported(c, value, f"no route for {engine}")


def _short(value: str) -> str:
    return Path(value).name if "/" in value else value


# ---------------------------------------------------------------------------------------------- page


def page_origin(engine: str, value: str, host: Host) -> Mechanism:
    """``page.origin``."""
    c = "page.origin"
    if value == "http-localhost":
        return _native(c, value, "plain http on loopback, 127.0.0.1 or a name under .localhost (a secure context)")
    if value == "https":
        return _native(c, value, "https with a certificate from the harness's own CA, accepted for this context")
    if engine == "chromium":
        return _native(c, value, f"http://{INSECURE_HOST} resolved to loopback (--host-resolver-rules, set on "
                       "every launch): not a secure context", launch_args=(CHROMIUM_INSECURE_HOST,))
    if engine == "firefox":
        return _native(c, value, f"http://{INSECURE_HOST} resolved to loopback (pref network.dns.localDomains, set "
                       "on every launch): not a secure context", prefs=(FIREFOX_INSECURE_HOST,))
    if engine == "webkit":
        return _native(c, value, f"http://{INSECURE_HOST} through the harness's loopback proxy: not a secure context")
    return _unsupported(c, value, f"no route for {engine}")


FRONT_HOW = "mediafault's front, on 127.0.0.1, forwarding to the app's URL with the app's own Host header"


def page_origin_for_url(engine: str, value: str, scheme: str, host: Host) -> Mechanism:
    """``page.origin`` for an app given by URL (``app.url``) whose scheme is ``scheme`` (http or https): the
    app keeps its URL where it can, is reached through mediafault's front where the origin must change, and
    is unsupported where no front can give it that origin."""
    c = "page.origin"
    base = page_origin(engine, value, host)
    if value == "http-localhost" or base.fidelity is Fidelity.unsupported:
        return base
    if value == "https":
        if scheme == "https":
            return _native(c, value, "the app's own https URL, as given (its certificate accepted for this context)")
        return _native(c, value, f"https://127.0.0.1:PORT is {FRONT_HOW}; its certificate comes from the run's "
                       "own CA, accepted for this context")
    if scheme == "https":
        return _unsupported(c, value, "the app is given by an https URL, and an https server cannot be reached "
                            "over plain http by any name; give the app's http URL (e.g. its dev server) as app.url "
                            "for this case")
    return replace(base, how=f"{base.how}; {INSECURE_HOST}:PORT is {FRONT_HOW}")


def page_embed(engine: str, value: str, host: Host) -> Mechanism:
    """``page.embed``."""
    c = "page.embed"
    how = {"top": "the app is the top-level page",
           "iframe": "cross-origin iframe without allow=\"microphone\" (Permissions Policy blocks it)",
           "iframe-allow": "cross-origin iframe with allow=\"microphone\""}[value]
    return _native(c, value, how)


def gesture(engine: str, value: str, host: Host) -> Mechanism:
    """``gesture``."""
    c = "gesture"
    if value == "not-required":
        return _native(c, value, "the engine's own rule (no gesture needed for getUserMedia)")
    return _shim(engine, c, value, "getUserMedia without a user gesture rejects NotAllowedError, as iOS "
                 "Safari does", gesture=True)


# ---------------------------------------------------------------------------------------------- faults


def fault_revoke(engine: str, value: str, host: Host) -> Mechanism:
    """``during: revoke-permission``."""
    c = "during.revoke-permission"
    if engine == "chromium":
        return _native(c, value, "CDP Browser.setPermission(denied) mid-call: the track ends, "
                       "PermissionStatus fires 'change'", fault="permission-denied")
    return Mechanism(c, value, Fidelity.emulated, "page shim: PermissionStatus turns 'denied' and fires "
                     "'change', then the track ends (no runtime permission command on this route)",
                     fault="shim:revoke", shim=(("faults", True),))


def fault_drop_network(engine: str, value: str, host: Host) -> Mechanism:
    """``during: drop-network`` (the scenario has a lab call, checked when it is loaded)."""
    c = "during.drop-network"
    lab = network(engine, "", host)
    if lab.fidelity is not Fidelity.native:
        return replace(lab, condition=c, value=value)
    return _native(c, value, "nftables drops every packet of the call's media path (ICE, TURN, media) on the "
                   "lab's link in both directions; the page and the signalling POST stay reachable (the restore, "
                   "if any, deletes that rule)", fault="drop-network", netlab=True)


def fault_unplug(engine: str, value: str, host: Host) -> Mechanism:
    """``during: unplug-device``."""
    return Mechanism("during.unplug-device", value, Fidelity.emulated, "page shim: the track ends, "
                     "'devicechange' fires and no microphone is listed (no browser can unplug a fake device)",
                     fault="shim:unplug", shim=(("faults", True),))


def fault_unplug_camera(engine: str, value: str, host: Host) -> Mechanism:
    """``during: unplug-camera``."""
    return Mechanism("during.unplug-camera", value, Fidelity.emulated, "page shim: the video track ends, "
                     "'devicechange' fires and no camera is listed (no browser can unplug a fake device)",
                     fault="shim:unplug-camera", shim=(("faults", True),))


LAB_ORIGIN_FLAG = f"--unsafely-treat-insecure-origin-as-secure=http://{SERVER_IP}:{APP_PORT}"


def network(engine: str, value: str, host: Host) -> Mechanism:
    """``network``: the call runs through the lab (value: 'turn=… policy=… udp=… credentials=…')."""
    c = "network"
    how = ("browser in its own network namespace, aiortc peer and coturn in another, joined by a veth"
           + ("; nftables drops every UDP packet on the link" if "udp=blocked" in value else "")
           + ("; the call's media path (ICE, TURN, media; not the page or the signalling POST) is impaired in "
              "both directions by tc netem, or by the lab's user-space NFQUEUE shaper where the kernel has no netem"
              if "shape=" in value else ""))
    if engine in ("chromium", "firefox") and not host.namespaces:
        return _unsupported(c, value, "the network lab needs root or unprivileged user namespaces, and this "
                            "machine allows neither (see 'mediafault doctor'); browser-level policies cannot "
                            "reproduce a real firewall or a lossy link")
    if engine == "chromium":
        # The app is served from the lab's address; that flag makes it a secure context as https would.
        return _native(c, value, how, netlab=True, launch_args=(LAB_ORIGIN_FLAG,))
    if engine == "firefox":
        # Firefox's BiDi port is inside the namespace; the lab's wrapper bridges it back to the harness.
        return _native(c, value, how + "; the automation port is bridged out of the namespace", netlab=True,
                       prefs=(("dom.securecontext.allowlist", SERVER_IP),))
    if engine == "webkit":
        return _unsupported(c, value, "Debian's WebKitGTK is built without WebRTC (no RTCPeerConnection)")
    return _unsupported(c, value, f"no route for {engine}")


TABLE: dict[str, Resolver] = {
    "permission.microphone": permission_microphone,
    "permission.camera": permission_camera,
    "device.microphone": device_microphone,
    "device.camera": device_camera,
    "device.audio": device_audio,
    "page.origin": page_origin,
    "page.embed": page_embed,
    "gesture": gesture,
    "network": network,
    "during.revoke-permission": fault_revoke,
    "during.unplug-device": fault_unplug,
    "during.unplug-camera": fault_unplug_camera,
    "during.drop-network": fault_drop_network,
}
ROUTED_ENGINES: tuple[str, ...] = ("chromium", "firefox", "webkit")


def given_values(given: Given, base: Path | None = None) -> dict[str, str]:
    """The condition values a scenario sets, flattened: ``{'permission.microphone': 'denied', …}``.

    Defaults are included (they are conditions too: a fake microphone is a mechanism). An audio file is
    given as its absolute path, resolved against ``base`` (the scenario's directory).
    """
    audio = given.device.audio
    audio_value = str(((base or Path.cwd()) / audio.file).resolve()) if isinstance(audio, AudioFile) else audio
    values: dict[str, str] = {
        "permission.microphone": given.permission.microphone,
        "device.microphone": given.device.microphone,
        "page.origin": given.page.origin,
        "page.embed": given.page.embed,
        "gesture": given.gesture,
    }
    if given.device.microphone == "default":
        values["device.audio"] = audio_value  # sound only matters when a microphone works
    if given.uses_camera:
        values["permission.camera"] = given.permission.camera
        values["device.camera"] = given.device.camera
    if given.network is not None:
        n = given.network
        values["network"] = f"turn={n.turn} policy={n.policy} udp={n.udp} credentials={n.credentials}"
        if n.shape is not None:
            values["network"] += f" shape={n.shape if isinstance(n.shape, str) else 'custom'}"
    return values


@dataclass(frozen=True)
class Resolution:
    """Every mechanism a case uses on one engine."""

    engine: str
    mechanisms: tuple[Mechanism, ...] = field(default_factory=tuple)

    @property
    def unsupported(self) -> list[Mechanism]:
        """Mechanisms that make the case impossible here."""
        return [m for m in self.mechanisms if m.fidelity is Fidelity.unsupported]

    @property
    def fidelity(self) -> Fidelity:
        """The weakest fidelity among the mechanisms (what the case as a whole deserves)."""
        order = [Fidelity.unsupported, Fidelity.emulated, Fidelity.native]
        return min((m.fidelity for m in self.mechanisms), key=order.index, default=Fidelity.native)


def resolve_value(engine: str, condition: str, value: str, host: Host | None = None) -> Mechanism:
    """The mechanism for one condition value on ``engine`` (on this machine unless ``host`` is given)."""
    if engine not in ROUTED_ENGINES:
        return _unsupported(condition, value, f"mediafault has no route for {engine}")
    return TABLE[condition](engine, value, host or Host.here())


def resolve(engine: str, given: Given, faults: Sequence[tuple[str, str]] = (),
            base: Path | None = None, app_scheme: str | None = None) -> Resolution:
    """The mechanism for every condition of ``given`` (and every mid-call fault) on ``engine``; for an app
    given by URL, ``app_scheme`` is that URL's scheme (http or https)."""
    mechs = [resolve_value(engine, c, v) for c, v in given_values(given, base).items()]
    if app_scheme is not None and engine in ROUTED_ENGINES:
        mechs = [page_origin_for_url(engine, m.value, app_scheme, Host.here()) if m.condition == "page.origin" else m
                 for m in mechs]
    mechs += [resolve_value(engine, f"during.{do}", f"after {after}") for do, after in faults]
    return Resolution(engine, tuple(mechs))


def all_values() -> dict[str, tuple[str, ...]]:
    """Every condition with every value the scenario language accepts (for the support matrix)."""
    from typing import get_args

    def literal(model: Any, name: str) -> tuple[str, ...]:
        args = get_args(model.model_fields[name].annotation)
        flat = [a for arg in args for a in (get_args(arg) or (arg,))]
        return tuple(str(a) for a in flat if isinstance(a, str))

    return {
        "permission.microphone": literal(Permission, "microphone"),
        "permission.camera": literal(Permission, "camera"),
        "device.microphone": literal(Device, "microphone"),
        "device.camera": literal(Device, "camera"),
        "device.audio": (*literal(Device, "audio"), "file.wav"),
        "page.origin": literal(PageSpec, "origin"),
        "page.embed": literal(PageSpec, "embed"),
        "gesture": ("not-required", "required"),
        "network": ("turn=udp policy=relay udp=open credentials=valid",
                    "turn=tcp policy=relay udp=blocked credentials=valid",
                    "turn=none policy=all udp=blocked credentials=valid",
                    "turn=udp policy=relay udp=open credentials=wrong",
                    *(f"turn=none policy=all udp=open credentials=valid shape={name}" for name in SHAPES)),
        "during.revoke-permission": ("after microphone-acquired",),
        "during.unplug-device": ("after microphone-acquired",),
        "during.unplug-camera": ("after camera-acquired",),
        "during.drop-network": ("after call-connected",),
    }
