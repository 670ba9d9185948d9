"""ASGI entry point for process managers: ``uvicorn serving.asgi:app`` (settings from the environment)."""

from serving.app import create_app

app = create_app()
