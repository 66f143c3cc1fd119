"""The HTTP side of the shell: the API, the event stream's WebSocket, webhooks."""
