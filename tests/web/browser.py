#!/usr/bin/env python3
"""The line page in headless Chromium (tests/web/cdp.py), driven by the
peer's scripted stream: BASE_URL GO_PREFIX SHOT_DIR.  The peer waits for
GO_PREFIX1, 2, 3 (files) before each step.  Prints TAP lines."""
import json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser

base, go, shots = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(shots, exist_ok=True)
fails = 0


def check(name, cond, *details):
    global fails
    print(('ok - ' if cond else 'not ok - ') + name)
    if not cond:
        fails += 1
        for d in details:
            print('#   ' + str(d)[:600])
    sys.stdout.flush()


TILES = '''JSON.stringify([...document.querySelectorAll('.tile')].map(t => ({
    port: t.dataset.port, state: t.dataset.state, progress: Number(t.dataset.progress || -1),
    label: t.querySelector('.label').textContent, text: t.innerText,
    r: t.getBoundingClientRect().toJSON(),
    labelPx: parseFloat(getComputedStyle(t.querySelector('.label')).fontSize),
    statePx: parseFloat(getComputedStyle(t.querySelector('.state')).fontSize)})))'''


def tiles(b):
    return {t['port']: t for t in json.loads(b.eval(TILES))}


def header(b):
    return b.eval('''JSON.stringify({pass: document.getElementById('pass').textContent,
        fail: document.getElementById('fail').textContent, yield: document.getElementById('yield').textContent,
        rate: document.getElementById('rate').textContent, conn: document.getElementById('conn').textContent,
        failures: [...document.querySelectorAll('#failures li')].map(l => l.textContent),
        headerPx: parseFloat(getComputedStyle(document.querySelector('header')).fontSize)})''')


def fits(b, w, h, t):
    """Every tile inside the viewport, nothing scrolls."""
    over = [p for p, x in t.items() if x['r']['right'] > w + 0.5 or x['r']['bottom'] > h + 0.5]
    scroll = b.eval('document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth')
    return not over and scroll, over


def shoot(b, name):
    for w, h in ((1920, 1080), (1280, 720)):
        b.size(w, h)
        time.sleep(0.3)
        t = tiles(b)
        ok, over = fits(b, w, h, t)
        check('page_%s_fits_%dx%d' % (name, w, h), ok, 'outside the viewport: %s' % over)
        b.screenshot(os.path.join(shots, '%s-%dx%d.png' % (name, w, h)))
    b.size(1920, 1080)
    time.sleep(0.2)


b = Browser(log=os.path.join(shots, 'chromium.log'))
try:
    b.size(1920, 1080)
    b.send('Page.enable')
    b.send('Page.navigate', url=base + '/')
    ok = b.wait("document.getElementById('conn').textContent === 'live' && document.querySelectorAll('.tile').length === 5")
    t = tiles(b)
    check('page_shows_one_tile_per_slot_in_layout', ok and [x['label'] for x in t.values()] == ['A1', 'A2', 'A3', 'A4', 'A5'],
          [(p, x['label']) for p, x in t.items()])
    hd = json.loads(header(b))
    check('page_header_from_snapshot', hd['pass'] == '3' and hd['fail'] == '1' and hd['yield'] == '75.0%', hd)
    check('page_last_failures_from_database', len(hd['failures']) == 1 and 'SNW003' in hd['failures'][0] and 'errPROG' in hd['failures'][0], hd['failures'])
    a3 = t.get('1-1.3', {})
    check('page_failed_slot_shows_stage_and_reason', a3.get('state') == 'fail' and 'stage app' in a3.get('text', '') and 'errPROG' in a3.get('text', ''), a3.get('text'))
    check('page_readable_from_3m_at_1920', all(x['labelPx'] >= 60 and x['statePx'] >= 30 for x in t.values()) and hd['headerPx'] >= 40,
          [(x['labelPx'], x['statePx']) for x in t.values()], hd['headerPx'])
    shoot(b, 'start')

    open(go + '1', 'w').close()
    ok = b.wait("(() => { const t = document.querySelector('.tile[data-port=\"1-1.1\"]'); return t && t.dataset.state === 'flashing' && Number(t.dataset.progress) > 0; })()")
    t = tiles(b)
    p1 = t['1-1.1']['progress']
    check('page_tile_goes_flashing_with_stage_and_progress', ok and 'boot (1/3)' in t['1-1.1']['text'] and 0 < p1 < 100,
          t['1-1.1']['text'], p1)
    check('page_second_tile_flashing', t['1-1.2']['state'] == 'flashing', t['1-1.2'])
    shoot(b, 'flashing')

    open(go + '2', 'w').close()
    ok = b.wait("Number(document.querySelector('.tile[data-port=\"1-1.1\"]').dataset.progress) > %d" % p1)
    t = tiles(b)
    check('page_progress_moves', ok and t['1-1.1']['progress'] > p1 and 'app (2/3)' in t['1-1.2']['text'],
          p1, t['1-1.1']['progress'], t['1-1.2']['text'])

    open(go + '3', 'w').close()
    ok = b.wait("(() => { const s = p => document.querySelector('.tile[data-port=\"' + p + '\"]').dataset.state; return s('1-1.1') === 'pass' && s('1-1.2') === 'fail'; })()")
    t = tiles(b)
    check('page_tile_goes_pass_with_serial', ok and 'SNX101' in t['1-1.1']['text'], t['1-1.1']['text'])
    check('page_tile_goes_fail_with_stage_and_reason', 'stage app' in t['1-1.2']['text'] and 'errPROG at 0x08024000' in t['1-1.2']['text'], t['1-1.2']['text'])
    hd = json.loads(header(b))
    check('page_header_counts_live_units', hd['pass'] == '4' and hd['fail'] == '2' and hd['yield'] == '66.7%' and int(hd['rate']) >= 2, hd)
    check('page_new_failure_on_top_of_list', hd['failures'] and 'SNX102' in hd['failures'][0] and 'errPROG at 0x08024000' in hd['failures'][0], hd['failures'])
    shoot(b, 'done')
    # No polling: after the page is up, only the one EventSource request.
    n = b.eval("performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.endsWith('/events'))")
    check('page_loads_no_other_resource', n == [], n)
finally:
    b.close()
sys.exit(1 if fails else 0)
