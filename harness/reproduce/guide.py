"""The prose of the conditions guide (docs/conditions.md): what each condition models in the real world
and what a good app does about it.

How each condition is reproduced on each engine is *not* written here: docgen takes it from the one
table in :mod:`harness.reproduce.conditions`, so the guide cannot drift from the code. A value missing here is
still listed in the guide (with its mechanisms), marked as not described yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.scenario.model import SHAPES


@dataclass(frozen=True)
class ValueGuide:
    """One value of a condition: the situation it models and what a good app does."""

    models: str
    good_app: str


@dataclass(frozen=True)
class ConditionGuide:
    """One condition: its title, how to write it in a scenario, and its values."""

    title: str
    write: str  # YAML with VALUE where the value goes
    about: str
    values: dict[str, ValueGuide] = field(default_factory=dict)


_NOT_A_FAILURE = "Nothing to handle: this is the working baseline the failures are compared with."

GUIDE: dict[str, ConditionGuide] = {
    "permission.microphone": ConditionGuide(
        "The microphone permission",
        "given:\n  permission: {microphone: VALUE}",
        "The permission the browser holds for the app's origin when the case starts. Browsers remember a "
        "'Block' per origin and per browser profile, so many users meet a refusal without ever seeing a prompt.",
        {
            "granted": ValueGuide("The user allowed the microphone on an earlier visit (or just now).",
                                  _NOT_A_FAILURE),
            "denied": ValueGuide(
                "The user clicked 'Block' earlier, so the browser refuses without asking (Twilio 31208 / "
                "31401, ACS microphonePermissionDenied).",
                "Checks `navigator.permissions.query({name: 'microphone'})` before asking, does not call "
                "getUserMedia again, and explains how to re-enable the microphone in this browser (the lock "
                "icon → Site settings → Microphone → Allow); reports the error to its telemetry."),
            "dismissed": ValueGuide(
                "The user closed the prompt with its X or Escape without answering. Chromium answers "
                "'Permission dismissed' and will ask again next time.",
                "Says the microphone is needed and offers to try again; it must not claim the microphone is "
                "blocked forever, because the next click will show the prompt again."),
            "policy": ValueGuide(
                "An administrator blocks the microphone for the whole browser (enterprise policy, MDM): common "
                "in call centres and regulated industries. The page sees the same refusal as a user's 'Block'.",
                "Explains the block and that IT has to allow the site; does not loop on retries. A text "
                "fallback helps these users most."),
            "prompt": ValueGuide(
                "The browser shows its prompt and the user has not answered (or has not noticed it).",
                "Shows that it is waiting for microphone access and how to answer the prompt; reports neither "
                "an error nor a connected call while getUserMedia is pending."),
        },
    ),
    "permission.camera": ConditionGuide(
        "The camera permission",
        "given:\n  permission: {camera: VALUE}\nwhen:\n  - click: '#video-call'",
        "The camera permission for the app's origin, in a case that uses the camera (writing a camera key "
        "makes the camera part of the case). Browsers keep it apart from the microphone's, so a user can "
        "allow one and block the other.",
        {
            "granted": ValueGuide("The user allowed the camera.", _NOT_A_FAILURE),
            "denied": ValueGuide(
                "The user blocked the camera for the site but not the microphone (ACS cameraPermissionDenied).",
                "Says the camera is blocked and how to allow it, and offers a voice-only call; it must not "
                "report a microphone problem or refuse the whole call."),
            "dismissed": ValueGuide(
                "The user closed the camera prompt without answering (Chromium: 'Permission dismissed').",
                "Says the camera is needed for video and lets the user try again or join with voice only."),
            "policy": ValueGuide(
                "A managed browser blocks cameras for every site (common on company laptops).",
                "Explains the block and keeps voice working; no retry loop."),
            "prompt": ValueGuide(
                "The camera prompt is open and nobody answers.",
                "Shows that it is waiting for camera access; no error and no frozen self-view."),
        },
    ),
    "device.microphone": ConditionGuide(
        "The microphone device",
        "given:\n  device: {microphone: VALUE}",
        "Which capture device the browser finds once the permission allows it.",
        {
            "default": ValueGuide("A working microphone is plugged in.", _NOT_A_FAILURE),
            "none": ValueGuide(
                "A desktop without a microphone, or a laptop whose internal microphone is disabled in the OS. "
                "getUserMedia rejects NotFoundError (Twilio 31201 / 31402).",
                "Says no microphone was found (not a permission problem), suggests plugging one in, and offers "
                "a fallback such as text chat."),
            "busy": ValueGuide(
                "Another application (Zoom, Teams, a desktop softphone) holds the microphone in exclusive mode, "
                "so the browser cannot start it: NotReadableError 'Could not start audio source'.",
                "Says the microphone is in use by another application and to close it, then lets the user retry; "
                "never reports it as a denied permission."),
            "overconstrained": ValueGuide(
                "The app asks for the microphone the user picked last time (by deviceId), but that USB or "
                "Bluetooth headset was unplugged or came back under a new id: OverconstrainedError.",
                "Says the selected microphone is unavailable, lists the microphones there are "
                "(`enumerateDevices`) and lets the user pick one, or falls back to the default device."),
        },
    ),
    "device.camera": ConditionGuide(
        "The camera device",
        "given:\n  device: {camera: VALUE}\nwhen:\n  - click: '#video-call'",
        "Which camera the browser finds once the permission allows it, in a case that uses the camera.",
        {
            "default": ValueGuide("A working camera is present.", _NOT_A_FAILURE),
            "none": ValueGuide(
                "A desktop without a webcam, or a laptop closed on a dock: NotFoundError for video.",
                "Says there is no camera (not that the microphone is missing) and offers a voice-only call."),
            "busy": ValueGuide(
                "Another application holds the camera: NotReadableError 'Could not start video source' "
                "(ACS cameraStartFailed).",
                "Says the camera is in use by another application and offers a voice-only call."),
            "overconstrained": ValueGuide(
                "The app asks for the camera picked last time, which is gone or came back under a new id: "
                "OverconstrainedError.",
                "Falls back to another camera or says the chosen one is not available."),
        },
    ),
    "device.audio": ConditionGuide(
        "What the microphone hears",
        "given:\n  device: {audio: VALUE}       # or {audio: {file: voice.wav}}",
        "The sound on a working microphone. It matters for apps that measure input levels (a silence "
        "warning, a pre-call test).",
        {
            "default": ValueGuide("The engine's built-in fake signal.", _NOT_A_FAILURE),
            "silent": ValueGuide(
                "Permission granted and a device present, but nothing comes through: a hardware mute switch, "
                "the wrong input selected in the OS, or an OS privacy block (macOS, Windows) that feeds silence.",
                "Notices the silence during the call and warns the user (check the mute switch and the input "
                "device) instead of leaving the other side hearing nothing."),
            "tone": ValueGuide("A microphone with a steady sound on it.",
                               "Raises no false 'we can't hear you' warning."),
            "file.wav": ValueGuide("A known recorded utterance fed as the microphone, the way QA plays a test "
                                   "phrase.", "Raises no false silence warning; the call carries the audio."),
        },
    ),
    "page.origin": ConditionGuide(
        "How the page is served",
        "given:\n  page: {origin: VALUE}",
        "Browsers expose `navigator.mediaDevices` only in secure contexts: https, or http on localhost.",
        {
            "http-localhost": ValueGuide("A developer's machine: http://localhost is a secure context.",
                                         _NOT_A_FAILURE),
            "https": ValueGuide("Production: the app on https.", _NOT_A_FAILURE),
            "http-insecure": ValueGuide(
                "The app deployed on plain http under a real host name (an internal server, a preview "
                "environment without TLS): the microphone API does not exist at all, and 'Allow' is greyed out.",
                "Detects the missing API at load (`window.isSecureContext`) and says that https is required, "
                "instead of failing with a TypeError when the user clicks Call."),
        },
    ),
    "page.embed": ConditionGuide(
        "How the page is embedded",
        "given:\n  page: {embed: VALUE}",
        "Whether the app is the page itself or sits inside a partner site's iframe, where the Permissions "
        "Policy decides about the microphone.",
        {
            "top": ValueGuide("The app is the page.", _NOT_A_FAILURE),
            "iframe": ValueGuide(
                "A partner site embeds the app in a cross-origin iframe and forgets allow=\"microphone\": the "
                "microphone is blocked inside the frame whatever the user answers.",
                "Detects that it is framed without permission (`document.featurePolicy` / the NotAllowedError) "
                "and tells the site owner to add allow=\"microphone\" or install the widget at the top level."),
            "iframe-allow": ValueGuide(
                "The same embed with allow=\"microphone\": allowed by the browser, but delegation to frames is "
                "fragile across browsers, so some widgets refuse to run framed at all.",
                "Either works normally or, if it refuses frames by design, says so clearly."),
        },
    ),
    "gesture": ConditionGuide(
        "The user-gesture rule",
        "given:\n  gesture: VALUE",
        "iOS Safari (and Chrome on iOS) grant the microphone only to a request made from a user gesture.",
        {
            "not-required": ValueGuide("Desktop browsers: getUserMedia works from any code.", _NOT_A_FAILURE),
            "required": ValueGuide(
                "An iPhone or iPad: a request at page load or from a timer is refused with NotAllowedError "
                "(Twilio 31208), although the user never saw a prompt.",
                "Calls getUserMedia from the Call button's click handler, never at load or from a timer."),
        },
    ),
    "network": ConditionGuide(
        "The call's network path",
        "given:\n  network: {turn: udp, policy: relay, udp: open, credentials: valid}",
        "The call runs for real through the network lab: the browser in its own network namespace, a TURN "
        "server and an echo peer in another, with faults applied on the link between them.",
        {
            "turn=udp policy=relay udp=open credentials=valid": ValueGuide(
                "A deployment that sends all media through TURN (to hide client addresses).",
                "Connects through the relay and carries audio."),
            "turn=tcp policy=relay udp=blocked credentials=valid": ValueGuide(
                "A corporate firewall or a VPN that drops UDP, with a TURN server reachable over TCP.",
                "Still connects, relayed over TCP."),
            "turn=none policy=all udp=blocked credentials=valid": ValueGuide(
                "UDP blocked and no TURN fallback: ICE checks time out (Twilio 31005 / 53405).",
                "Reports a media-connection failure within about 15 s (Chromium signals it only through "
                "connectionState 'failed') and suggests another network or a phone fallback."),
            "turn=udp policy=relay udp=open credentials=wrong": ValueGuide(
                "Expired or wrong TURN credentials: TURN answers 401 and no relay candidate is gathered.",
                "Notices the 401 (icecandidateerror) or the missing relay candidates and reports the relay "
                "problem instead of hanging."),
            "turn=udp policy=all udp=open credentials=wrong": ValueGuide(
                "A TURN credential that expired or was mistyped, in a deployment that also allows direct "
                "paths: TURN answers 401, but the call can still connect without the relay.",
                "Connects directly and does not end a working call because its relay fallback failed."),
            "turn=tcp policy=all udp=blocked credentials=wrong": ValueGuide(
                "The same bad credential behind a firewall that drops UDP: the relay over TCP was the only "
                "path left, and it refuses the credential.",
                "When the call fails, names the relay (the 401 it saw) as the cause rather than a generic "
                "media failure that sends the user after their VPN."),
            "turn=udp policy=relay udp=blocked credentials=valid": ValueGuide(
                "Media forced through TURN offered only over UDP, behind a firewall that drops UDP: the "
                "allocation is never answered, so gathering ends with no candidate and no browser error.",
                "Notices it has no candidate to offer and reports the unreachable relay instead of staying "
                "on 'Connecting…'."),
            "turn=none policy=all udp=open credentials=valid": ValueGuide(
                "A plain direct call on a healthy network: the baseline that mid-call faults (a dropped "
                "network) start from.",
                "Connects directly and carries audio."),
            **{f"turn=none policy=all udp=open credentials=valid shape={name}": ValueGuide(
                f"{shape['about'][0].upper()}{shape['about'][1:]}.",
                "Keeps the call up and warns the user about the quality they will hear (delay, breaking up), "
                "the way Twilio's high-rtt / high-packet-loss warnings do, instead of staying silent.")
               for name, shape in SHAPES.items()},
            "turn=udp policy=relay udp=open credentials=valid shape=custom": ValueGuide(
                "An impairment given in numbers (latency, jitter, loss, bandwidth), here on a relayed call.",
                "Warns about the quality whatever the media path; loss on the way to the relay counts too."),
        },
    ),
    "during.revoke-permission": ConditionGuide(
        "Permission revoked mid-call",
        "during:\n  - {after: microphone-acquired, do: revoke-permission}   # or after: call-connected",
        "The microphone permission is withdrawn while the app holds the microphone.",
        {
            "after microphone-acquired": ValueGuide(
                "The user turns the microphone off in the site settings during the call, or an OS privacy "
                "toggle does it. ACS fires microphonePermissionDenied again in this case.",
                "Reports that access was turned off (not a generic device failure), tells how to turn it back "
                "on, and does not keep a silent call open."),
            "after call-connected": ValueGuide(
                "The same, with the call really up (media flowing through a TURN relay): the moment users notice "
                "most, since the other side stops hearing them.",
                "Reports the revoked permission and ends or pauses the call visibly, instead of leaving a "
                "connected call that carries no voice (one-way audio)."),
        },
    ),
    "during.unplug-device": ConditionGuide(
        "Microphone unplugged mid-call",
        "during:\n  - {after: microphone-acquired, do: unplug-device}   # or after: call-connected",
        "The microphone disappears while the app uses it.",
        {
            "after microphone-acquired": ValueGuide(
                "The USB headset is pulled out (or a Bluetooth headset disconnects) during the call.",
                "Listens for 'devicechange' and the track's 'ended', says the microphone was disconnected and "
                "offers the microphones that are left."),
            "after call-connected": ValueGuide(
                "The headset disconnects while the call is connected.",
                "Says the microphone was disconnected and offers another one; the call must not silently go on "
                "without a microphone."),
        },
    ),
    "during.unplug-camera": ConditionGuide(
        "Camera unplugged mid-call",
        "during:\n  - {after: camera-acquired, do: unplug-camera}",
        "The camera disappears while the app shows it.",
        {
            "after camera-acquired": ValueGuide(
                "The USB webcam is pulled out during a video call (ACS cameraStoppedUnexpectedly).",
                "Says the camera was disconnected and keeps the voice call going; no frozen last frame."),
            "after microphone-acquired": ValueGuide(
                "The webcam is pulled out just as a video call starts: the microphone is live, the camera "
                "is not held yet.",
                "Says the camera is missing or was disconnected and keeps the voice call going."),
        },
    ),
    "during.drop-network": ConditionGuide(
        "Network lost mid-call",
        "during:\n  - {after: call-connected, do: drop-network}",
        "Every packet between the browser and the servers is dropped while the call is up.",
        {
            "after call-connected": ValueGuide(
                "The Wi-Fi drops, the laptop changes networks, or a train enters a tunnel during a call.",
                "Shows that it is reconnecting, recovers if the network comes back, and reports a media "
                "connection failure if it does not."),
            "after microphone-acquired": ValueGuide(
                "The network goes away while the call is still being set up.",
                "Does not hang on 'Connecting…': reports the media connection failure."),
        },
    ),
}
