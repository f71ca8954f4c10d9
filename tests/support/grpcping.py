"""A gRPC server and client for the h2c tests, on grpcio's generic handlers (raw bytes, no protobuf).

The service ``ping.Ping`` is shaped like Knative's grpc-ping sample: ``Ping`` (unary: ``pong: `` and
the request back, with the server's ``K_REVISION`` when it has one), ``Count`` (server streaming: a
request ``N`` gives N messages ``0`` .. ``N-1``), ``Chat`` (bidirectional: each message back as it
comes, upper-cased) and ``Fail`` (status ``FAILED_PRECONDITION`` with a message: an error status
travels in the trailers).

Standalone (``python grpcping.py``) it serves on 127.0.0.1:$PORT until SIGTERM, as an app of
``zeroserve up``; :func:`start` runs it in-process on an ephemeral port. Self-contained: grpcio only.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

SERVICE = "ping.Ping"


def _ping(request: bytes, context: Any) -> bytes:
    revision = os.environ.get("K_REVISION")
    return b"pong: " + request + (b" from " + revision.encode() if revision else b"")


def _count(request: bytes, context: Any) -> Iterator[bytes]:
    for i in range(int(request)):
        yield str(i).encode()


def _chat(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
    for message in requests:
        yield message.upper()


def _fail(request: bytes, context: Any) -> bytes:
    context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not today: " + request.decode())
    raise AssertionError("abort raises")


def handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Ping": grpc.unary_unary_rpc_method_handler(_ping),
            "Count": grpc.unary_stream_rpc_method_handler(_count),
            "Chat": grpc.stream_stream_rpc_method_handler(_chat),
            "Fail": grpc.unary_unary_rpc_method_handler(_fail),
        },
    )


def start(port: int = 0) -> tuple[grpc.Server, int]:
    """The server on 127.0.0.1:``port`` (0: ephemeral), started: (server, its port)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler(),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, bound


class Client:
    """The four calls, on a channel to ``target`` (``host:port``) that sends ``authority`` as
    ``:authority`` (the gateway routes by it, as by a Host header)."""

    def __init__(self, target: str, authority: str | None = None) -> None:
        options = [("grpc.default_authority", authority)] if authority else []
        self.channel = grpc.insecure_channel(target, options=options)
        method = f"/{SERVICE}/"
        self.ping = self.channel.unary_unary(method + "Ping")
        self.count = self.channel.unary_stream(method + "Count")
        self.chat = self.channel.stream_stream(method + "Chat")
        self.fail = self.channel.unary_unary(method + "Fail")

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    server, _ = start(int(os.environ.get("PORT", "8080")))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
