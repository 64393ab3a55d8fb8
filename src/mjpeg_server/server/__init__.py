"""The server side: HTTP in front of the capture hubs.

- ``app``: the Flask app (``create_app(settings)``), its routes and status;
- ``bodies``: a stream as a response body, one class per ``--send-path``;
- ``fanout``: the loop that writes every stream socket;
- ``serving``: running the app (gunicorn or Werkzeug's development server).

The server knows hubs, never devices: cameras are the hub's business.
"""
