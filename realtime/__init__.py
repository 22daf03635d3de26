"""The websocket hub and cross-worker fan-out."""
