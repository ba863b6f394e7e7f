"""The recordings tests' fixtures (real WAV files, a clock the test moves, ffmpeg)."""

from tests.recordings.conftest import clock, dirs, tools

__all__ = ["clock", "dirs", "tools"]
