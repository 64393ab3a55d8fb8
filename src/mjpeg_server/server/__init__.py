"""The server side: HTTP in front of the capture hubs.

- ``app``: the Flask app (``create_app(settings)``), its routes and status;
- ``bodies``: a stream as a response body (adopted by the front door, or
  written by any other WSGI server);
- ``loop``: the one event loop thread that does all socket I/O;
- ``front_door``: accepts connections, reads requests, runs the app on a small
  pool, writes responses, hands streams to the fan-out;
- ``fanout``: writes every stream socket;
- ``serving``: running it all (the front door, or Werkzeug's development server).

The server knows hubs, never devices: cameras are the hub's business.
"""
