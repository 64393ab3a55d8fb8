"""The wire format, sans-I/O: bytes in, bytes or events out.

Nothing in this package opens a socket or a file, starts a thread, sleeps or
reads a clock, in the way ``flask.sansio`` and h11 promise it: the server, the
client tools and anyone else do their own I/O around it, and the tests feed it
input whole and byte by byte.

- ``multipart``: the ``multipart/x-mixed-replace`` codec in one import (the
  public API: encoder, parser, events, errors); it is made of
  ``encoder`` (each frame framed once, shared by every viewer),
  ``headers`` (part headers, the boundary and ``Content-Type`` rules),
  ``events`` (what the parser says), ``parser`` (the h11-style driver),
  ``receive_buffer`` (the bytes fed), ``framing``, ``readers`` and
  ``payload_readers`` (one reader per framing), and ``deviations`` (what is
  tolerated of RFC 2046, decided in one place);
- ``frame_headers``: ``X-Timestamp`` and ``X-Frame-Seq``, written and read by one rule;
- ``http1``: an HTTP/1 response as a client reads it: the head, then the body's framing;
- ``jpeg``: just enough JPEG to check a frame and read its size.
"""
