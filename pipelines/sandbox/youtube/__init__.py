"""The YouTube Data API v3 emulator: a small TLS server on loopback with Google's token endpoint,
resumable uploads, videos/channels/playlists/playlistItems, quota accounting with its 403 bodies,
faults (cut-off chunk, 5xx, expired session, quota and rate-limit 403s) and ground truth (which
videos exist, their bytes' SHA-256 and metadata). Started by the publish stage when no channel is
configured, and by the tests and the benchmark.
"""

from pipelines.sandbox.youtube.server import YouTubeEmulator
from pipelines.sandbox.youtube.state import COSTS, Faults, YouTubeState

__all__ = ["COSTS", "Faults", "YouTubeEmulator", "YouTubeState"]
