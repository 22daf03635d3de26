"""The Starlette app: HTTP API, pages, and static assets."""
