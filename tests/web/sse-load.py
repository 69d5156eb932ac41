#!/usr/bin/env python3
"""Many /events clients at once, for flashd-web's tests.

  sse-load.py HOST PORT --clients N [--stalled K] [--go FILE] --until-id ID
              [--last-event-id ID] [--timeout S] [--out FILE.json]

Opens N readers and K stalled clients (a tiny receive buffer, never read),
waits until every reader has its first event, creates FILE (the peer then
starts its burst), and reads until every reader has seen event id ID.
Prints one JSON summary: per reader the events in order (type:id), whether
the ids after the first event are contiguous, how long it took, and how
many bytes flashd-web still holds for each stalled client at the end.
"""
import argparse, json, os, selectors, socket, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument('host')
p.add_argument('port', type=int)
p.add_argument('--clients', type=int, default=1)
p.add_argument('--stalled', type=int, default=0)
p.add_argument('--go')
p.add_argument('--until-id', type=int, required=True)
p.add_argument('--last-event-id')
p.add_argument('--timeout', type=float, default=60)
p.add_argument('--keep', type=int, default=5, help='events kept per reader in the summary')
a = p.parse_args()

req = 'GET /events HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\n'
if a.last_event_id:
    req += 'Last-Event-ID: %s\r\n' % a.last_event_id
req = (req + '\r\n').encode()

stalled = []
for _ in range(a.stalled):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.connect((a.host, a.port))
    s.sendall(req)
    stalled.append(s)

sel = selectors.DefaultSelector()
readers = []
for i in range(a.clients):
    s = socket.socket()
    s.connect((a.host, a.port))
    s.sendall(req)
    s.setblocking(False)
    r = {'i': i, 'buf': b'', 'head': False, 'events': [], 'last': None, 'status': None}
    readers.append(r)
    sel.register(s, selectors.EVENT_READ, r)


def parse(r):
    if not r['head']:
        k = r['buf'].find(b'\r\n\r\n')
        if k < 0:
            return
        r['status'] = r['buf'].split(b' ', 2)[1].decode()
        r['buf'] = r['buf'][k + 4:]
        r['head'] = True
    while True:
        k = r['buf'].find(b'\n\n')
        if k < 0:
            return
        block, r['buf'] = r['buf'][:k].decode(), r['buf'][k + 2:]
        ev = {'id': None, 'event': 'message', 'data': ''}
        for ln in block.split('\n'):
            if ln.startswith(':'):
                continue
            f, _, v = ln.partition(': ')
            if f in ev:
                ev[f] = v
        if ev['id'] is None and block.startswith(':'):
            continue
        r['events'].append((ev['event'], int(ev['id']) if ev['id'] else None, ev['data']))
        r['last'] = int(ev['id']) if ev['id'] else r['last']


def pump(until, deadline):
    while time.time() < deadline and not until():
        for key, _ in sel.select(timeout=0.2):
            r = key.data
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not d:
                sel.unregister(key.fileobj)
                r['closed'] = True
                continue
            r['buf'] += d
            parse(r)


t0 = time.time()
pump(lambda: all(r['events'] for r in readers), t0 + a.timeout)
first_all = time.time() - t0
if a.go:
    open(a.go, 'w').close()
t1 = time.time()
pump(lambda: all((r['last'] or 0) >= a.until_id for r in readers), t1 + a.timeout)
took = time.time() - t1


def unsent(client_port):
    """flashd-web's unsent bytes towards one client (Send-Q of its end)."""
    r = subprocess.run(['ss', '-Htn', 'state', 'established',
                        '( sport = :%d and dport = :%d )' % (a.port, client_port)],
                       capture_output=True, text=True)
    f = r.stdout.split()
    return int(f[1]) if len(f) > 1 else -1


out = {'stalled_unsent': [unsent(s.getsockname()[1]) for s in stalled],
       'readers': a.clients, 'stalled': a.stalled, 'first_event_s': round(first_all, 3),
       'burst_s': round(took, 3), 'complete': 0, 'contiguous': 0, 'clients': []}
for r in readers:
    ids = [e[1] for e in r['events'][1:] if e[1] is not None]
    contiguous = all(b == a_ + 1 for a_, b in zip(ids, ids[1:]))
    complete = (r['last'] or 0) >= a.until_id
    out['complete'] += complete
    out['contiguous'] += contiguous
    out['clients'].append({'status': r['status'], 'n': len(r['events']), 'complete': complete,
                           'contiguous': contiguous,
                           'first': ['%s:%s' % e[:2] for e in r['events'][:a.keep]],
                           'last': ['%s:%s' % e[:2] for e in r['events'][-a.keep:]],
                           'first_data': r['events'][0][2][:2000] if r['events'] else None})
json.dump(out, sys.stdout)
print()
