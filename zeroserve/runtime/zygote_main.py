"""The zygote of a Python app's revision: imports the app once, forks a ready instance on demand.

Run by :mod:`.zygote` (``zeroserve up``'s side) in the revision's sandbox as ``python -c <this file's
text> MODULE:CALLABLE FD``: stdlib only, no package import (the sandbox may not show zeroserve's
files). ``FD`` is a SOCK_SEQPACKET socket to up. The zygote:

* imports ``MODULE`` from its working directory and looks up ``CALLABLE`` (dots allowed); an ASGI
  callable (a coroutine function, or an object whose ``__call__`` is one) needs uvicorn importable;
  a WSGI one is served by the small HTTP/1.1 server below (keep-alive, Content-Length and chunked
  bodies, a thread per connection - threads start in the child only). It refuses to go on if the
  import started a thread (a fork copies only the forking thread: locks held by another would stay
  locked in every child). It freezes what the import made (``gc.freeze``: a child's collections
  never walk it, so they copy none of its pages), then sends ``ready wsgi`` (or ``ready asgi``),
  else ``error TEXT``;
* on each request from up (JSON ``{"id", "host", "port"}`` with one fd: a socket of the child's
  own) forks a child, then reports ``exit CODE`` on the child's socket when it reaps it (CODE
  negative: killed by that signal);
* exits when up closes the socket (its children die with it: ``PR_SET_PDEATHSIG``).

The child: a session of its own (up signals its process group), dies with the zygote; it sends its
pid with ``SCM_CREDENTIALS`` (the kernel translates it into up's PID namespace), binds and listens on
the instance's ``host:port`` (from the fork request: ``{"id", "host", "port"}``), says ``listening``
(or ``error TEXT``) and waits for its instance (up moves it into the instance's cgroup meanwhile, and
may keep it waiting as the revision's *spare*, forked ahead of the next scale-up): JSON ``{"env"}``
(the instance's environment: ``os.environ`` replaced), ahead or with the instance's log pipe (``{}``
when the environment came ahead). Then it takes the log pipe as stdout and stderr and serves, saying
nothing more: up counted it ready when it sent the instance (the port listens; a spare's threads
accept already, and hold a connection until the instance is in place). SIGTERM: stop accepting, let
requests in flight finish, exit 0.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import inspect
import io
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

PR_SET_PDEATHSIG = 1
MAX_LINE = 65536
MAX_HEADERS = 100
MAX_IDLE = 8
"""Threads kept waiting for the next connection once theirs closed (more end)."""
FIRST_IDLE = 2
"""Threads waiting for a connection when an instance starts (its first connection starts none)."""
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    500: "Internal Server Error",
}


def load(target: str) -> Any:
    """``module:attr.attr`` imported from the working directory."""
    module_name, _, path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in (path or "application").split("."):
        obj = getattr(obj, part)
    return obj


def is_asgi(app: Any) -> bool:
    return inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__)


class BadRequest(Exception):
    pass


class Connection:
    """One client connection of the WSGI server: requests one after the other (keep-alive)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], conn: socket.socket, server: Server) -> None:
        self.app = app
        self.conn = conn
        self.server = server
        self.rfile = conn.makefile("rb", buffering=65536)

    def run(self) -> None:
        try:
            while self.one():
                pass
        except (OSError, BadRequest):
            pass
        finally:
            self.rfile.close()
            self.conn.close()

    def one(self) -> bool:
        line = self.rfile.readline(MAX_LINE)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_LINE)
        if not line:
            return False
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        method, target, version = parts
        environ: dict[str, Any] = {}
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep:
                raise BadRequest(raw)
            key = name.strip().upper().replace("-", "_")
            value = value.strip()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        else:
            raise BadRequest("too many headers")
        path, _, query = target.partition("?")
        self.server.busy(+1)
        try:
            body = self.body(headers)
            environ = {
                "REQUEST_METHOD": method,
                "SCRIPT_NAME": "",
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "SERVER_NAME": self.server.host,
                "SERVER_PORT": str(self.server.port),
                "SERVER_PROTOCOL": version,
                "REMOTE_ADDR": "127.0.0.1",
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": True,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }
            for key, value in headers.items():
                if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                    environ[key] = value
                else:
                    environ["HTTP_" + key] = value
            environ["CONTENT_LENGTH"] = str(len(body))
            connection = headers.get("CONNECTION", "").lower()
            keep = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
            return self.respond(environ, method == "HEAD", keep, version == "HTTP/1.1")
        finally:
            self.server.busy(-1)

    def body(self, headers: dict[str, str]) -> bytes:
        if headers.get("EXPECT", "").lower() == "100-continue":
            self.conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("TRANSFER_ENCODING", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(MAX_LINE)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError as err:
                    raise BadRequest("bad chunk size") from err
                if size == 0:
                    while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(MAX_LINE)
        length = headers.get("CONTENT_LENGTH")
        if not length:
            return b""
        if not length.isdigit():
            raise BadRequest("bad Content-Length")
        return bytes(self.rfile.read(int(length)))

    def respond(self, environ: dict[str, Any], head: bool, keep: bool, chunking: bool) -> bool:
        state: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if exc_info is not None and state.get("sent"):
                raise exc_info[1].with_traceback(exc_info[2])
            state["status"], state["headers"] = status, headers
            return write

        def write(data: bytes) -> None:
            send(data)

        def send(data: bytes) -> None:
            if not state.get("sent"):
                state["sent"] = True
                self.conn.sendall(head_of())
            if data and not head:
                self.conn.sendall(b"%x\r\n%s\r\n" % (len(data), data) if state["chunked"] else data)

        def head_of() -> bytes:
            headers = state["headers"]
            names = {name.lower() for name, _ in headers}
            lines = [f"HTTP/1.1 {state['status']}"]
            lines += [f"{name}: {value}" for name, value in headers]
            state["chunked"] = False
            if "content-length" not in names and not head and state["status"][:3] not in ("204", "304"):
                if chunking and keep:
                    lines.append("Transfer-Encoding: chunked")
                    state["chunked"] = True
                else:
                    state["keep"] = False
            if not state.get("keep", keep):
                lines.append("Connection: close")
            return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

        try:
            result = self.app(environ, start_response)
        except Exception:
            traceback.print_exc()
            self.conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
            return keep
        try:
            for data in result:
                send(data)
            if not state.get("sent"):
                if "status" not in state:
                    raise RuntimeError("the app returned without calling start_response")
                state["headers"] = [*state["headers"], ("Content-Length", "0")]
                send(b"")
            if state["chunked"]:
                self.conn.sendall(b"0\r\n\r\n")
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return bool(state.get("keep", keep))


class Server:
    """Serves each connection on the thread that accepted it: idle threads wait in ``accept`` (the
    kernel wakes one per connection), and one that takes the last idle place starts another before
    it serves (so a long keep-alive connection never keeps the next one waiting). A connection's
    first byte thus waits for one thread to wake, not for the main thread's and then a handoff to
    a worker's. Up to :data:`MAX_IDLE` threads wait; more end once their connection closes. The
    main thread waits for SIGTERM. A spare's threads wait in ``accept`` too, and a connection they
    take waits until :meth:`serve` (the instance's environment and log pipe are in place): the
    instance's first connection wakes one thread, which finds the main thread's work done (it ran
    while up published the instance to the gateway), not the main thread and then a thread it wakes.
    Two wait from the start (:data:`FIRST_IDLE`), so that the first connection starts no thread:
    ``Thread.start`` waits for the new thread to run, a wait for the CPU on a busy machine."""

    def __init__(self, app: Callable[..., Iterable[bytes]], listener: socket.socket, host: str, port: int) -> None:
        self.app = app
        self.listener = listener
        self.host, self.port = host, port
        self._lock = threading.Condition()
        self._busy = 0
        self._idle = 0
        self._open = threading.Event()

    def busy(self, delta: int) -> None:
        with self._lock:
            self._busy += delta
            if self._busy == 0:
                self._lock.notify_all()

    def prestart(self) -> None:
        """The idle threads of :data:`FIRST_IDLE`, started now (a spare's: while it waits)."""
        for _ in range(FIRST_IDLE - self._idle):
            with self._lock:
                self._idle += 1
            threading.Thread(target=self._accepting, daemon=True).start()

    def _accepting(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # the main thread's to take
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # the listener was shut down: SIGTERM
                return
            self._open.wait()  # a spare's connection: served once it is the instance
            with self._lock:
                self._idle -= 1
                another = self._idle == 0
                if another:
                    self._idle += 1
            if another:
                threading.Thread(target=self._accepting, daemon=True).start()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            Connection(self.app, conn, self).run()
            with self._lock:
                if self._idle >= MAX_IDLE:
                    return
                self._idle += 1

    def serve(self) -> None:
        """Accept (on the threads) until SIGTERM, then let the requests in flight finish and exit 0."""

        def stop(signum: int, frame: Any) -> None:
            raise InterruptedError

        if self._idle == 0:  # not a spare's
            self.prestart()
        try:
            signal.signal(signal.SIGTERM, stop)
            self._open.set()
            while True:
                signal.pause()
        except InterruptedError:
            pass
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the threads waiting in accept
        self.listener.close()
        with self._lock:  # requests in flight finish; idle keep-alive connections are dropped
            while self._busy:
                self._lock.wait()
        sys.stdout.flush()
        os._exit(0)


def _rehearsal(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]


def rehearse(server: Server) -> None:
    """Run ahead, with no effect, what the child runs once it has its instance (JSON, the environment,
    one request through the HTTP server, to an app of our own): the pages this touches are copied
    (copy-on-write) while it waits, not after."""
    json.loads(json.dumps({"env": dict(os.environ)}))
    for key, value in list(os.environ.items()):
        os.environ[key] = value
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"GET / HTTP/1.1\r\nHost: rehearsal\r\nConnection: close\r\n\r\n")
        Connection(_rehearsal, ours, server).run()
        while theirs.recv(65536):
            pass


def child(app: Any, kind: str, own: socket.socket, zygote: int, host: str, port: int) -> None:
    """The forked instance (never returns)."""
    try:
        os.setsid()
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != zygote:
            os._exit(1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        creds = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
        own.sendmsg([b"pid"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(1024)
        except OSError as err:
            own.send(f"error cannot listen on {host}:{port}: {err.strerror or err}".encode())
            os._exit(1)
        own.send(b"listening")
        sys.stdout = os.fdopen(1, "w", buffering=1)  # the log pipe takes fds 1 and 2 over later
        sys.stderr = os.fdopen(2, "w", buffering=1)
        server = Server(app, listener, host, port)
        if kind == "wsgi":
            rehearse(server)
            server.prestart()
        while True:  # blocks while this child is a spare: its environment (ahead), then its log pipe
            message, fds, _, _ = socket.recv_fds(own, 1 << 20, 1)
            if not message:
                os._exit(1)
            request = json.loads(message)
            if "env" in request:
                os.environ.clear()
                os.environ.update(request["env"])
            if fds:
                break
        os.dup2(fds[0], 1)
        os.dup2(fds[0], 2)
        os.close(fds[0])
        own.close()
        if kind == "asgi":
            uvicorn: Any = importlib.import_module("uvicorn")
            config = uvicorn.Config(app, lifespan="off", log_level="warning")
            uvicorn.Server(config).run(sockets=[listener])
            os._exit(0)
        server.serve()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(1)


def main() -> None:
    target, fd = sys.argv[1], int(sys.argv[2])
    control = socket.socket(fileno=fd)
    control.setblocking(True)
    sys.path.insert(0, os.getcwd())
    try:
        app = load(target)
        kind = "asgi" if is_asgi(app) else "wsgi"
        if kind == "asgi":
            importlib.import_module("uvicorn")  # before any fork
        if threading.active_count() != 1:
            names = ", ".join(t.name for t in threading.enumerate() if t is not threading.main_thread())
            raise RuntimeError(f"importing {target} started threads ({names}): it cannot be forked safely")
    except BaseException as err:
        traceback.print_exc()
        sys.stderr.flush()
        control.send(f"error {type(err).__name__}: {err}".encode()[:4000])
        sys.exit(1)
    gc.collect()
    gc.freeze()  # what the import made: never walked by a child's collections (each walk would copy its pages)
    control.send(f"ready {kind}".encode())
    me = os.getpid()
    children: dict[int, tuple[int, socket.socket]] = {}
    # epoll, not select(): two descriptors per child (its pidfd, its socket) pass FD_SETSIZE (1,024)
    # at ~500 children, where select() raises and the zygote, and every instance with it, died
    waiting = selectors.DefaultSelector()
    waiting.register(control.fileno(), selectors.EVENT_READ)
    while True:
        for key, _ in waiting.select():
            ready = key.fd
            if ready == control.fileno():
                message, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
                if not message:
                    sys.exit(0)
                own = socket.socket(fileno=fds[0])
                request = json.loads(message)
                gc.freeze()
                pid = os.fork()
                if pid == 0:
                    waiting.close()
                    control.close()
                    for other_pidfd, (_, other) in children.items():
                        os.close(other_pidfd)
                        other.close()
                    child(app, kind, own, me, request["host"], int(request["port"]))
                pidfd = os.pidfd_open(pid)
                children[pidfd] = (pid, own)
                waiting.register(pidfd, selectors.EVENT_READ)
            else:
                pidfd = ready
                pid, own = children.pop(pidfd)
                waiting.unregister(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):
                    own.send(b"exit %d" % os.waitstatus_to_exitcode(status))
                own.close()


if __name__ == "__main__":
    main()
