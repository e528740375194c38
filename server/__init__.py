"""``fedq serve``: fedq behind the PostgreSQL wire protocol, installed as ``fedq.server``.

Kept out of the public ``fedq`` package because only the CLI needs it: ``pgwire`` encodes messages and
values, ``pg_catalog`` answers the catalog queries drivers send, ``cursors`` and ``copy_out`` serve
DECLARE/FETCH and COPY TO STDOUT, and ``server`` puts them together (sessions, limits, the listener).
"""
from fedq.server.server import DEFAULT_HOST, DEFAULT_PORT, ServerSettings, serve

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerSettings", "serve"]
