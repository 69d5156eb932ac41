#!/usr/bin/env python3
"""Clients of flashd's event stream for tests/daemon/test-flashd-events-sim.sh.

  events-sub.py record SOCK OUT      every line to OUT until SIGTERM
  events-sub.py crowd SOCK N         N clients reading and discarding until SIGTERM
  events-sub.py stall SOCK OUT       connects, reads nothing until SIGUSR1, then
                                     reads what is left (3 s) to OUT and says
                                     "closed" or "open" on the last line
  events-sub.py quitter SOCK         reads 2 lines, then resets the connection
"""
import os
import selectors
import signal
import socket
import struct
import sys
import time


def connect(path):
    for _ in range(200):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    sys.exit("cannot connect to " + path)


stop = False


def ready(s):
    """Say so in $READY once connected (flashd accepted: the hello is there)."""
    s.recv(1, socket.MSG_PEEK)
    if os.environ.get("READY"):
        open(os.environ["READY"], "w").close()


def on_term(*_):
    global stop
    stop = True


def record(path, out):
    signal.signal(signal.SIGTERM, on_term)
    s = connect(path)
    s.settimeout(0.2)
    ready(s)
    with open(out, "wb") as f:
        while not stop:
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            f.write(data)
            f.flush()


def crowd(path, n):
    signal.signal(signal.SIGTERM, on_term)
    sel = selectors.DefaultSelector()
    for _ in range(n):
        s = connect(path)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    open(os.environ.get("READY", "/dev/null"), "w").close()
    while not stop:
        for key, _ in sel.select(0.2):
            try:
                if not key.fileobj.recv(65536):
                    sel.unregister(key.fileobj)
            except OSError:
                sel.unregister(key.fileobj)


go = False


def on_usr1(*_):
    global go
    go = True


def stall(path, out):
    signal.signal(signal.SIGUSR1, on_usr1)
    s = connect(path)
    ready(s)
    while not go:
        time.sleep(0.05)
    s.settimeout(3)
    state = "open"
    with open(out, "wb") as f:
        while True:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                state = "closed"
                break
            if not data:
                state = "closed"
                break
            f.write(data)
        f.write(("\n" + state + "\n").encode())


def quitter(path):
    s = connect(path)
    f = s.makefile("rb")
    f.readline()
    f.readline()
    # RST rather than FIN: unread data is discarded.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "record":
        record(sys.argv[2], sys.argv[3])
    elif mode == "crowd":
        crowd(sys.argv[2], int(sys.argv[3]))
    elif mode == "stall":
        stall(sys.argv[2], sys.argv[3])
    elif mode == "quitter":
        quitter(sys.argv[2])
