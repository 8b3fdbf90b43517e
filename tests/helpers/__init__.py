"""Test helpers shared across test packages (real shards, real mp4s; nothing mocked)."""
