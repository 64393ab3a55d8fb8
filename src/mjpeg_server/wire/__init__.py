"""The wire format, sans-I/O: bytes in, bytes or events out.

Nothing in this package opens a socket or a file, starts a thread, sleeps or
reads a clock, in the way ``flask.sansio`` and h11 promise it: the server, the
client tools and anyone else do their own I/O around it, and the tests feed it
input whole and byte by byte.

- ``multipart``: the ``multipart/x-mixed-replace`` encoder (each frame framed
  once, shared by every viewer) and the tolerant, linear-time parser;
- ``jpeg``: just enough JPEG to check a frame and read its size.
"""
