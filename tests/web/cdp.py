"""A minimal Chrome DevTools Protocol client (python3 stdlib only): starts
headless Chromium, opens one page and sends commands over a WebSocket whose
handshake and framing (RFC 6455, client frames masked) are done by hand."""
import base64, json, os, re, socket, struct, subprocess, tempfile, time, urllib.request

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')


class Browser:
    def __init__(self, width=1920, height=1080, log=None):
        self.profile = tempfile.mkdtemp(prefix='flashd-web-chromium-')
        args = [CHROMIUM, '--headless=new', '--no-sandbox', '--disable-gpu',
                '--no-first-run', '--no-default-browser-check', '--disable-extensions',
                '--hide-scrollbars', '--remote-debugging-port=0',
                '--user-data-dir=' + self.profile, '--window-size=%d,%d' % (width, height),
                'about:blank']
        self.log = open(log, 'wb') if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.PIPE)
        port = None
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline().decode(errors='replace')
            if not line and self.proc.poll() is not None:
                raise RuntimeError('chromium exited with %s' % self.proc.returncode)
            if log:
                self.log.write(line.encode())
            m = re.search(r'DevTools listening on ws://[^:]+:(\d+)/', line)
            if m:
                port = int(m.group(1))
                break
        if not port:
            raise RuntimeError('chromium did not start DevTools')
        # Keep draining stderr so Chromium never blocks on a full pipe.
        import threading
        threading.Thread(target=self._drain, daemon=True).start()
        targets = json.load(urllib.request.urlopen('http://127.0.0.1:%d/json/list' % port))
        page = [t for t in targets if t.get('type') == 'page'][0]
        self.ws = WebSocket(page['webSocketDebuggerUrl'])
        self.next_id = 0
        self.events = []

    def _drain(self):
        for line in self.proc.stderr:
            if self.log is not subprocess.DEVNULL:
                try:
                    self.log.write(line)
                except ValueError:
                    return

    def send(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({'id': mid, 'method': method, 'params': params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get('id') == mid:
                if 'error' in msg:
                    raise RuntimeError('%s: %s' % (method, msg['error']))
                return msg.get('result', {})
            self.events.append(msg)

    def size(self, width, height):
        self.send('Emulation.setDeviceMetricsOverride', width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def eval(self, expr):
        r = self.send('Runtime.evaluate', expression=expr, returnByValue=True, awaitPromise=True)
        if 'exceptionDetails' in r:
            raise RuntimeError('evaluate %s: %s' % (expr[:60], r['exceptionDetails']))
        return r['result'].get('value')

    def wait(self, expr, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                v = self.eval(expr)
            except RuntimeError:
                v = None  # the page is still loading
            if v:
                return v
            time.sleep(0.1)
        return None

    def screenshot(self, path):
        r = self.send('Page.captureScreenshot', format='png')
        with open(path, 'wb') as f:
            f.write(base64.b64decode(r['data']))

    def close(self):
        try:
            self.send('Browser.close')
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(['rm', '-rf', self.profile])


class WebSocket:
    def __init__(self, url):
        m = re.match(r'ws://([^:/]+):(\d+)(/.*)', url)
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(('GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n'
                           'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
                           'Sec-WebSocket-Version: 13\r\n\r\n' % (path, host, port, key)).encode())
        head = b''
        while b'\r\n\r\n' not in head:
            d = self.sock.recv(1)
            if not d:
                raise RuntimeError('websocket handshake: connection closed')
            head += d
        if b' 101 ' not in head.split(b'\r\n')[0]:
            raise RuntimeError('websocket handshake: %r' % head[:100])
        self.buf = b''

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack('!BB', 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack('!BBH', 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack('!BBQ', 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(hdr + mask + masked)

    def _read(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(1 << 20)
            if not d:
                raise RuntimeError('websocket closed')
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7f
            if n == 126:
                n = struct.unpack('!H', self._read(2))[0]
            elif n == 127:
                n = struct.unpack('!Q', self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            op = b0 & 0x0f
            if op == 0x9:  # ping: answer, keep reading
                continue
            if op == 0x8:
                raise RuntimeError('websocket closed by peer')
            parts.append(data)
            if b0 & 0x80:
                return b''.join(parts).decode()
