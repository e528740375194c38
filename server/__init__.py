"""``fedq serve``: fedq behind the PostgreSQL wire protocol, installed as ``fedq.server``.

Kept out of the public ``fedq`` package because only the CLI needs it: ``pgwire`` encodes messages and
values, ``pg_catalog`` answers the catalog queries drivers send, ``cursors`` and ``copy_out`` serve
DECLARE/FETCH and COPY TO STDOUT, ``statement_text`` rewrites a client's SQL for fedq, ``permissions``
keeps non-admin sessions from changing the catalog, ``settings`` reads ``[server]``, ``sqlstate`` maps
errors, and ``server`` puts them together (sessions, the protocol, the listener).
"""
from fedq.server.server import serve
from fedq.server.settings import DEFAULT_HOST, DEFAULT_PORT, ServerSettings

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerSettings", "serve"]
