#!/usr/bin/env python3
"""The line page in headless Chromium against the real flashd and its real
event stream (tests/web/test-flashd-web-e2e.sh): BASE_URL SHOT_DIR READY
WANT.  Once the page is live it creates READY (the driver then lets the
boards run) and watches the tiles until every port in WANT ("1-1.1=pass,..")
shows its result.  Prints TAP lines; the page's history to SHOT_DIR/e2e-seen.json."""
import json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser

base, shots, ready, want = sys.argv[1:5]
want = dict(w.split('=') for w in want.split(','))
os.makedirs(shots, exist_ok=True)
fails = 0


def check(name, cond, *details):
    global fails
    print(('ok - ' if cond else 'not ok - ') + name)
    if not cond:
        fails += 1
        for d in details:
            print('#   ' + str(d)[:800])
    sys.stdout.flush()


TILES = '''JSON.stringify([...document.querySelectorAll('.tile')].map(t => ({
    port: t.dataset.port, state: t.dataset.state, progress: Number(t.dataset.progress || -1),
    label: t.querySelector('.label').textContent, text: t.innerText})))'''


def tiles(b):
    return {t['port']: t for t in json.loads(b.eval(TILES))}


b = Browser(log=os.path.join(shots, 'chromium-e2e.log'))
seen = {p: [] for p in want}
try:
    b.size(1920, 1080)
    b.send('Page.enable')
    b.send('Page.navigate', url=base + '/')
    ok = b.wait("document.getElementById('conn').textContent === 'live' && document.querySelectorAll('.tile').length === 5")
    t = tiles(b)
    check('e2e_page_live_with_slots_from_flashd_conf', ok and [x['label'] for x in t.values()] == ['A1', 'A2', 'A3', 'A4', 'A5'],
          [(p, x['label'], x['state']) for p, x in t.items()])
    check('e2e_page_starts_empty', all(x['state'] == 'empty' for x in t.values()), [(p, x['state']) for p, x in t.items()])
    open(ready, 'w').close()
    end = time.time() + 120
    while time.time() < end:
        t = tiles(b)
        for p in want:
            x = t.get(p, {})
            obs = (x.get('state'), x.get('progress'), x.get('text', '').replace('\n', ' | '))
            if not seen[p] or seen[p][-1] != obs:
                seen[p].append(obs)
        if all(t.get(p, {}).get('state') == r for p, r in want.items()):
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the header and the failure list settle
    b.screenshot(os.path.join(shots, 'e2e-1920x1080.png'))
    b.size(1280, 720)
    time.sleep(0.3)
    b.screenshot(os.path.join(shots, 'e2e-1280x720.png'))
    b.size(1920, 1080)
    time.sleep(0.2)
    t = tiles(b)
    json.dump(seen, open(os.path.join(shots, 'e2e-seen.json'), 'w'), indent=1)
    for p, r in want.items():
        states = [s[0] for s in seen[p]]
        check('e2e_tile_%s_goes_flashing_then_%s' % (p, r),
              'flashing' in states and states[-1] == r and states.index('flashing') < len(states) - 1,
              states)
        prog = sorted({s[1] for s in seen[p] if s[0] == 'flashing' and 0 < s[1] < 100})
        check('e2e_tile_%s_progress_moves' % p, len(prog) >= 2, prog, seen[p][:12])
        stages = [s[2] for s in seen[p] if s[0] == 'flashing']
        # flashd-web may connect to flashd's stream after the short boot stage.
        check('e2e_tile_%s_shows_stage' % p, any('app (2/3)' in s for s in stages), stages[:12])
    for p, r in want.items():
        txt = t[p]['text']
        if r == 'fail':
            check('e2e_fail_tile_%s_shows_stage_and_reason' % p, 'stage app' in txt and 'errPROG' in txt, txt)
        else:
            check('e2e_pass_tile_%s_shows_serial' % p, 'SNE' in txt, txt)
    hd = json.loads(b.eval('''JSON.stringify({pass: document.getElementById('pass').textContent,
        fail: document.getElementById('fail').textContent,
        failures: [...document.querySelectorAll('#failures li')].map(l => l.textContent)})'''))
    npass = sum(1 for r in want.values() if r == 'pass')
    check('e2e_header_counts', hd['pass'] == str(npass) and hd['fail'] == str(len(want) - npass), hd)
    check('e2e_failure_listed', len(hd['failures']) == 1 and 'errPROG' in hd['failures'][0]
          and 'Invalid' not in hd['failures'][0], hd['failures'])
finally:
    b.close()
sys.exit(1 if fails else 0)
