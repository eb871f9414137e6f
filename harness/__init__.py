"""mediafault: reproduce microphone, permission and network failures in real browsers.

The import package is ``harness``; the distribution and the command are ``mediafault``.
"""

from __future__ import annotations

__version__ = "0.1.0"
