#!/usr/bin/env python3
"""A stand-in for flashd's two sockets, for flashd-web's tests.

  peer.py --events SOCK [--control SOCK] --status STATUS.json --script SCRIPT

control: each connection gets STATUS.json's document and a newline (as
flashd's control socket).  events: each connection gets a hello line
({"type":"hello","seq":S,"station":..,"version":..,"status":<status>}), then
the script goes on from where it was, shared by all connections:
  wait PATH            until PATH exists
  sleep SECONDS
  emit TYPE {json}     one event: the object plus type, seq and t
  burst N TYPE {json}  N events of TYPE ({"i": k} added), as fast as the socket takes them
  drop                 a {"type":"dropped"} event, then close (flashd-web must reconnect)
  status FILE          later hellos and control answers use FILE
Lines starting with # are comments.  Runs until killed.
"""
import argparse, json, os, socket, threading, time

p = argparse.ArgumentParser()
p.add_argument('--events', required=True)
p.add_argument('--control')
p.add_argument('--status', required=True)
p.add_argument('--script', required=True)
a = p.parse_args()

state = {'seq': 0, 'status': a.status, 'pos': 0}
lock = threading.Lock()
script = [l.strip() for l in open(a.script) if l.strip() and not l.startswith('#')]


def status_doc():
    with open(state['status']) as f:
        return json.load(f)


def line(obj):
    return (json.dumps(obj, separators=(',', ':')) + '\n').encode()


def event(typ, fields):
    with lock:
        state['seq'] += 1
        seq = state['seq']
    o = {'type': typ, 'seq': seq, 't': int(time.time() * 1000)}
    o.update(fields)
    return line(o)


def serve_events(conn):
    st = status_doc()
    with lock:
        state['seq'] += 1
        hello = {'type': 'hello', 'seq': state['seq'], 'station': st.get('station'),
                 'version': st.get('version'), 'status': st}
    conn.sendall(line(hello))
    while True:
        with lock:
            if state['pos'] >= len(script):
                cmd = None
            else:
                cmd = script[state['pos']]
                state['pos'] += 1
        if cmd is None:
            # Idle: keep the connection, notice when flashd-web goes away.
            conn.settimeout(1.0)
            try:
                if conn.recv(1) == b'':
                    return
            except socket.timeout:
                pass
            continue
        word, _, rest = cmd.partition(' ')
        if word == 'wait':
            while not os.path.exists(rest):
                time.sleep(0.05)
        elif word == 'sleep':
            time.sleep(float(rest))
        elif word == 'emit':
            typ, _, js = rest.partition(' ')
            conn.sendall(event(typ, json.loads(js or '{}')))
        elif word == 'burst':
            n, typ, js = rest.split(' ', 2)
            base = json.loads(js)
            for i in range(int(n)):
                conn.sendall(event(typ, dict(base, i=i)))
        elif word == 'drop':
            conn.sendall(event('dropped', {'count': 1}))
            conn.close()
            return
        elif word == 'status':
            state['status'] = rest


def serve_control(conn):
    conn.sendall(line(status_doc()))
    conn.close()


def listen(path, handler):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)

    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=lambda: guarded(handler, c), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def guarded(handler, c):
    try:
        handler(c)
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass


listen(a.events, serve_events)
if a.control:
    listen(a.control, serve_control)
while True:
    time.sleep(3600)
