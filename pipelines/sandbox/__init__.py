"""The embedded sandbox: a local, faithful emulator of the Zoom and MEETS APIs over a generated account.

from pipelines.sandbox import SandboxServer, SandboxConfig
with SandboxServer(SandboxConfig()) as sb:
    print(sb.info())
"""

from pipelines.sandbox.account import Account, Scale
from pipelines.sandbox.config import Faults, SandboxConfig
from pipelines.sandbox.server import SandboxServer

__all__ = ["Account", "Faults", "SandboxConfig", "SandboxServer", "Scale"]
