"""Serving with several API processes: `momento serve --workers N`.

Each API process owns a SO_REUSEPORT socket on the shared address and the kernel spreads new
connections over them; this process supervises them (replaces one that dies, stops them all
on SIGINT/SIGTERM, and they die with it). `claim_port` is also how `serve` checks, before its
banner, that the port is free.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

import click

from momento import logs

if TYPE_CHECKING:
    import uvicorn


def claim_port(host: str, port: int) -> socket.socket:
    """Bind the address the server will listen on, or fail in one line if it is taken.

    A plain bind (no SO_REUSEPORT): a port already in use, even by another `momento serve`
    sharing it with SO_REUSEPORT, is an error, not a port to share.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


# Worker exit status for "could not start" (uvicorn's): not worth restarting.
STARTUP_FAILURE = 3


def _listen_reuseport(host: str, port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


# prctl(2) option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """SIGTERM this API process when the supervisor dies, even by SIGKILL: orphans would keep
    serving on the port (a new `momento serve` then cannot claim it) with no one to replace
    them. Linux only; elsewhere the supervisor's own SIGTERM on a clean stop is all there is."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(config: uvicorn.Config, sock: socket.socket, parent: int) -> None:
    import uvicorn

    _die_with_parent(parent)
    config.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


def serve_workers(config: uvicorn.Config, workers: int) -> int:
    """Run `workers` server processes, each accepting on its own listening socket.

    uvicorn's supervisor has every worker accept from one shared socket, and a burst of new
    connections goes to whichever worker wakes first: wrk's 32 connections were measured
    split 28/4, the busy worker's callers queueing while the other idled (p99 several times
    p50). Here each worker owns a SO_REUSEPORT socket bound to the same address and the kernel
    spreads connections over them. The sockets stay open in this process, so a worker that
    dies is replaced on its own socket without losing the connections waiting there. SIGINT
    and SIGTERM stop the workers (uvicorn's graceful shutdown) and then this process.
    """
    import multiprocessing
    import threading

    log = logs.get("momento.cli")
    # Claimed again: another process may have taken the port since `serve` let it go.
    with claim_port(config.host, config.port) as probe:
        port = probe.getsockname()[1] if config.port == 0 else config.port
    sockets = [_listen_reuseport(config.host, port, config.backlog) for _ in range(workers)]
    spawn = multiprocessing.get_context("spawn")

    def start(sock: socket.socket) -> multiprocessing.process.BaseProcess:
        process = spawn.Process(
            target=_worker_main, args=(config, sock, os.getpid()), name="momento-worker"
        )
        process.start()
        return process

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    processes = [start(sock) for sock in sockets]
    status = 0
    while not stop.wait(0.5):
        for i, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                log.error("a worker failed to start; stopping", pid=process.pid)
                status = 1
                stop.set()
                break
            log.warning("worker exited; starting another", pid=process.pid, code=process.exitcode)
            processes[i] = start(sockets[i])
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join()
    for sock in sockets:
        sock.close()
    return status
