"""The findings report from the outside: its numbers against status.json, its files, and a real browser.

The out_dir is a real run made by the pipeline (`small_run` in conftest: the demo faces, builtin:tiny, blur
rejects, a quarantined file, a binding cap), so the report is tested on exactly what export writes.
"""
import base64, io, json, os, re, shutil, signal, subprocess, tempfile, time, urllib.request
from pathlib import Path

import pytest
import numpy as np
from PIL import Image

from facesynth_nb.config import InputError
from facesynth_nb.diagnose import DIAGNOSTICS, diagnose
from facesynth_nb.pipeline import run_pipeline
from facesynth_nb.report import FIGURES, REQUIRED, find_placeholders, render_report
from conftest import FER, small_run_config


@pytest.fixture(scope='module')
def pristine(small_run):
    "The session's real run; tests copy it, never change it."
    return Path(small_run[0].out_dir)


@pytest.fixture(scope='module')
def run_dir(pristine, tmp_path_factory):
    "A copy of the real run rendered with the built-in engine, shared by the read-only tests of this module."
    out = shutil.copytree(pristine, tmp_path_factory.mktemp('rendered')/'out')
    render_report(out, engine='builtin')
    return out


@pytest.fixture
def fresh(pristine, tmp_path):
    "A private copy of the real run's out_dir, its report and plots removed (as before a first render)."
    out = shutil.copytree(pristine, tmp_path/'out', ignore=shutil.ignore_patterns('findings.*', 'plots'))
    assert not (out/'findings.html').exists() and not (out/'plots').exists()
    return out


def section(md, n):
    "The text of section `n` (between its heading and the next)."
    return re.split(r'^## \d+\. ', md.split(f'\n## {n}. ', 1)[1], maxsplit=1, flags=re.M)[0]


def metrics(md):
    "Section 10's list as {label: text}."
    return dict(re.findall(r'^- \*\*(.+?):\*\* (.*)$', section(md, 10), re.M))


def floats(text):
    return [float(x.replace(',', '')) for x in re.findall(r'-?\d[\d,]*\.?\d*', text)]


# ---------------------------------------------------------------- section 10 against status.json

def test_section10_numbers_equal_status(run_dir):
    "Each figure of section 10 against status.json as export writes it (nested extras)."
    s = json.loads((run_dir/'status.json').read_text())
    g = s['synthetic_generation']
    m = metrics((run_dir/'findings.md').read_text())
    assert floats(m['Original count'])[0] == s['total_original']
    assert floats(m['Synthetic candidates generated'])[0] == g['candidates']
    assert floats(m['Synthetic accepted by the gates'])[0] == g['accepted']
    assert floats(m['Synthetic in the corpus'])[:2] == [s['total_synthetic'], s['over_cap_dropped']['count']]
    assert floats(m['Combined total'])[0] == s['total_images']
    sizes = floats(m['Train / val / test sizes'])
    assert sizes[:3] == [s['split_counts'][k] for k in ('train', 'val', 'test')]
    assert sizes[3:6] == pytest.approx([s['splits_fraction'][k] for k in ('train', 'val', 'test')], abs=5e-5)
    assert floats(m['Synthetic fraction, overall'])[0] == pytest.approx(s['synthetic_fraction'], abs=5e-5)
    for label, pc in s['per_class'].items():
        part = re.search(rf'\b{label} (\S+) \(\S+ %\) \((\S+) of (\S+)\)', m['Synthetic fraction per class'])
        assert part, label
        assert float(part[1]) == pytest.approx(pc['synthetic_fraction'], abs=5e-5)
        assert (int(part[2]), int(part[3])) == (pc['synthetic'], pc['total'])
    assert floats(m['Max class deviation'])[0] == pytest.approx(s['balance']['max_abs_deviation_pct'], abs=5e-3)
    worst = max(s['balance']['per_class'], key=lambda l: abs(s['balance']['per_class'][l]))
    assert m['Max class deviation'].endswith(f'({worst})')
    assert m['Within ±2 % tolerance'] == ('yes' if s['balance']['within_tolerance'] else 'no')
    for src in ('original', 'synthetic'):
        assert floats(m[f'Gray mean / std, {src}']) == pytest.approx([s['gray_stats'][src]['mean'], s['gray_stats'][src]['std']], abs=5e-3)
    for k in ('originals', 'synthetic', 'curated'):
        assert f"{k} " in m['Disk usage'] and f"({s['disk_usage'][k]['bytes']:,} bytes)" in m['Disk usage']
    for reason, n in g['rejects_by_reason'].items():
        assert f'{reason} {n:,}' in m['Rejected by reason']
    assert floats(m['Rejected by reason'])[-1] == sum(g['rejects_by_reason'].values())
    assert floats(m['Quarantined'])[0] == s['quarantined']['count']
    short = {l: d for l, d in s['plan']['per_class'].items() if d['shortfall']}
    assert short, 'the run is meant to have a shortfall (the cap binds)'
    assert g['rejects_by_reason'] and s['quarantined']['count'] == 1, 'the run is meant to have rejects and a bad file'
    for label, d in short.items():
        assert f"{label} {d['shortfall']:,} ({d['shortfall_cause']}:" in m['Plan shortfall']


def test_no_placeholder_anywhere(run_dir):
    md = (run_dir/'findings.md').read_text()
    assert find_placeholders(md) == []
    assert not re.search(r'<int>|<bool>|<float>|TODO|\bnan\b|\bNone\b|\$\{', md, re.I)
    assert [int(n) for n in re.findall(r'^## (\d+)\. ', md, re.M)] == list(range(1, 14))
    names = re.findall(r'^## \d+\. (.+)$', md, re.M)
    assert names == ['Objective', 'Target and scope', 'Stages', 'Prompts', 'Quality controls', 'Metadata outputs', 'Balance',
                     'Integrity', 'Risks', 'Observed metrics', 'Enhancements', 'Reproducibility', 'Open questions']


def test_numbers_follow_the_files_not_the_code(fresh):
    "Change status.json and the report changes with it: nothing is hard-coded."
    out = fresh
    s = json.loads((out/'status.json').read_text())
    s.update(total_original=98765, synthetic_fraction=0.123456)
    s['quarantined']['count'] = 4321
    s['balance'].update(max_abs_deviation_pct=1.5, within_tolerance=True)
    (out/'status.json').write_text(json.dumps(s))
    render_report(out, engine='builtin')
    m = metrics((out/'findings.md').read_text())
    assert m['Original count'] == '98,765'
    assert m['Quarantined'].startswith('4,321')
    assert m['Synthetic fraction, overall'] == '0.1235 (12.35 %)'
    assert m['Within ±2 % tolerance'] == 'yes' and m['Max class deviation'].startswith('1.50 %')


def test_open_questions_answered_with_this_runs_numbers(run_dir):
    md = (run_dir/'findings.md').read_text()
    s = json.loads((run_dir/'status.json').read_text())
    cfg = json.loads((run_dir/'run.json').read_text())['config']
    ans = section(md, 13)
    angry = s['plan']['per_class']['angry']
    assert f"target_total {cfg['target_total']}, so {angry['target']} per class" in ans
    assert f"Yes, for angry (needs {angry['need']}, the cap allows {angry['allowed_by_cap']})" in ans
    assert f"at curation {s['over_cap_dropped']['count']} synthetic images were dropped" in ans


def test_no_claim_contradicts_what_the_run_did(fresh):
    """Render the same run with every feature off (no label check, not evaluated) and on (label gate rejecting,
    evaluated): each report says what that run did, and no sentence of the other kind survives."""
    import hashlib
    from facesynth_nb.gates import GATES
    s = json.loads((fresh/'status.json').read_text())
    off = dict(s); off.pop('quality', None); off.pop('evaluation', None)
    (fresh/'status.json').write_text(json.dumps(off)); render_report(fresh, engine='builtin')
    md_off = (fresh/'findings.md').read_text()
    assert 'not checked by this run' in md_off and '**Prompted expressions are not verified.**' in md_off
    assert 'not measured yet: `facesynth evaluate OUT_DIR`' in md_off and 'Measure utility' in md_off
    assert 'Does the synthetic data help?' not in md_off and 'Out of scope' not in md_off
    q = dict(s.get('quality') or {}, label_gate='reject', label_policy='reject', label_auto_floor=0.5, label_prob_min=0.05,
             validator=dict(kind='cnn', model='CNN', n_train=40, accuracy=0.61, measured_on='20 faces of the val originals',
                            recall={lb: 0.6 for lb in ('angry', 'sad')}),
             counts={g: dict(rejected=0, failed=3 if g == 'label' else 0, flagged=0) for g in GATES})
    ev = dict(labels=['angry', 'sad'], seeds=[1], verdict='no measurable effect', classifier=dict(name='cnn'),
              conclusion='No measurable effect: adding the 9 synthetic images changed macro-F1 by +0.010.',
              bootstrap=dict(resamples=10), split_sizes=dict(train_real=dict(total=8), train_mixed=dict(total=17),
                                                             test_real=dict(total=4, per_label={'angry': 2, 'sad': 2})),
              arms={a: dict(mean=dict(accuracy=0.5, macro_f1=0.5, f1={'angry': 0.5, 'sad': 0.5}),
                            std=dict(accuracy=0, macro_f1=0, f1={'angry': 0, 'sad': 0}),
                            ci95=dict(f1={'angry': [0.4, 0.6], 'sad': [0.4, 0.6]}), confusion=[[1, 1], [1, 1]])
                    for a in ('real', 'mixed')},
              comparisons={'mixed-real': dict(accuracy=dict(diff=0.0, ci95=[-0.1, 0.1], verdict='no measurable effect'),
                                              macro_f1=dict(diff=0.01, ci95=[-0.1, 0.1], verdict='no measurable effect'),
                                              f1={lb: dict(diff=0.0, ci95=[-0.1, 0.1], verdict='no measurable effect')
                                                  for lb in ('angry', 'sad')},
                                              recall={lb: dict(diff=0.0, ci95=[-0.1, 0.1], verdict='no measurable effect')
                                                      for lb in ('angry', 'sad')})})
    (fresh/'evaluation.json').write_text(json.dumps(ev))
    on = dict(s, quality=q, evaluation=dict(sha256=hashlib.sha256((fresh/'evaluation.json').read_bytes()).hexdigest()))
    (fresh/'status.json').write_text(json.dumps(on)); render_report(fresh, engine='builtin')
    md_on = (fresh/'findings.md').read_text()
    n = len(re.findall(r'^## \d+\. ', md_on, re.M))
    assert re.findall(r'^## (\d+)\. ', md_on, re.M) == [str(i) for i in range(1, n + 1)]
    assert f'## {n}. Does the synthetic data help?' in md_on and f'measured (section {n}): No measurable effect' in md_on
    assert 'checked by a cnn validator of accuracy 0.6100 (61.00 %)' in md_on and 'rejected mismatches' in md_on
    assert 'the label gate rejected 3 candidates' in md_on and 'not verified' not in md_on and 'not checked' not in md_on
    assert 'Measure utility' not in md_on and 'not measured yet' not in md_on and 'A label check that rejects' not in md_on
    for claim in ('Out of scope', 'judging expressions automatically', 'three gates', '3 gates'):
        assert claim not in md_on + md_off, claim
    assert f"scored by the {len(GATES)} gates" in md_on and ' → '.join(GATES) in md_on
    n_plots = len(list((fresh/'plots').glob('*.png')))
    assert f'**Diagnose**: {n_plots} plots under `plots/`' in md_on


# ---------------------------------------------------------------- banners

def test_builtin_warning_is_at_the_top(run_dir):
    md = (run_dir/'findings.md').read_text()
    top = md.split('\n## 1. ')[0]
    assert 'these images are untrained-model noise, not faces' in top
    assert 'builtin:tiny' in top
    html = (run_dir/'findings.html').read_text()
    assert html.index('untrained-model noise, not faces') < html.index('1. Objective')


def test_demo_run_says_so(run_dir):
    top = (run_dir/'findings.md').read_text().split('\n## 1. ')[0]
    assert 'Demo originals' in top and 'scikit-image' in top and 'not faces' in top


def test_a_real_model_run_has_no_warning(tmp_path):
    "A run whose candidates are real faces (the `folder:` generator) is not flagged as noise, nor as a demo."
    cands = tmp_path/'cands'
    for i, p in enumerate(sorted(FER.glob('*/*.jpg'))[:14]):
        d = cands/p.parent.name; d.mkdir(parents=True, exist_ok=True)
        # turned a quarter: without the FER sample these faces are the demo originals or their mirror
        # images, which the flip-aware near-duplicate gate rightly rejects
        with Image.open(p) as im: im.transpose(Image.ROTATE_90).resize((96, 96)).save(d/f'c{i:03d}.png')
    cfg = small_run_config(tmp_path, model_id=f'folder:{cands}', mirror_root='', blur_var_min=0.0, target_total=120)
    res = run_pipeline(cfg)
    assert res.ok and res.status['total_synthetic'] > 0 and not res.status['model_is_builtin']
    render_report(cfg.out, engine='builtin')
    top = (cfg.out/'findings.md').read_text().split('\n## 1. ')[0]
    assert 'not faces' not in top and 'Demo originals' not in top


# ---------------------------------------------------------------- strict and tolerant

@pytest.mark.parametrize('key', list(REQUIRED))
def test_a_required_key_missing_is_named(fresh, key):
    out = fresh
    s = json.loads((out/'status.json').read_text())
    del s[key]
    (out/'status.json').write_text(json.dumps(s))
    with pytest.raises(InputError, match=key):
        render_report(out, engine='builtin')
    assert not (out/'findings.html').exists()


def test_optional_files_and_keys_missing_say_not_recorded(fresh):
    out = fresh
    s = json.loads((out/'status.json').read_text())
    (out/'status.json').write_text(json.dumps({k: s[k] for k in REQUIRED}))
    for name in ('journal.jsonl', 'plan.csv', 'originals.csv', 'quarantine.csv', 'synthetic_meta.csv', 'env_report.json'):
        (out/name).unlink()
    shutil.rmtree(out/'rejects')                                          # the run saved reject thumbnails
    html = render_report(out, engine='builtin')
    md = (out/'findings.md').read_text()
    m = metrics(md)
    assert m['Disk usage'] == m['Rejected by reason'] == m['Within ±2 % tolerance'] == 'not recorded'
    assert m['Original count'] == f"{s['total_original']:,}"
    assert find_placeholders(md) == []
    assert html.read_text().count('src="data:image/png;base64,') == len(FIGURES)


def test_status_disagreeing_with_the_journal_is_flagged(fresh):
    out = fresh
    s = json.loads((out/'status.json').read_text())
    s['synthetic_generation']['rejects_by_reason']['blur'] += 5
    (out/'status.json').write_text(json.dumps(s))
    render_report(out, engine='builtin')
    integ = section((out/'findings.md').read_text(), 8)
    assert re.search(r'\| status rejects_by_reason = journal \| FAIL \|', integ)


# ---------------------------------------------------------------- files

def test_html_is_self_contained(run_dir):
    html = (run_dir/'findings.html').read_text()
    assert not re.search(r'<script|<link|<iframe|@import|url\(', html, re.I)
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html, re.I)
    srcs = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', html)
    assert len(srcs) == len(FIGURES)
    for src in srcs:
        assert src.startswith('data:image/png;base64,')
        with Image.open(io.BytesIO(base64.b64decode(src.split(',', 1)[1]))) as im:
            assert im.size[0] > 100 and im.size[1] > 100


def test_renders_are_deterministic(fresh):
    out = fresh
    render_report(out, engine='builtin')
    first = {n: (out/n).read_bytes() for n in ('findings.md', 'findings.qmd', 'findings.html')}
    first.update({p.name: p.read_bytes() for p in (out/'plots').glob('*.png')})
    shutil.rmtree(out/'plots')
    render_report(out, engine='builtin')
    again = {n: (out/n).read_bytes() for n in ('findings.md', 'findings.qmd', 'findings.html')}
    again.update({p.name: p.read_bytes() for p in (out/'plots').glob('*.png')})
    assert again == first
    assert sorted(n for n in first if n.endswith('.png')) == sorted(f'{n}.png' for n in DIAGNOSTICS)


FAKE_QUARTO = '''#!/bin/sh
echo "$@" > "{log}"
{body}
'''


def _fake_quarto(tmp_path, monkeypatch, body):
    bin_ = tmp_path/'bin'; bin_.mkdir()
    q = bin_/'quarto'; q.write_text(FAKE_QUARTO.format(log=tmp_path/'quarto.args', body=body)); q.chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_}{os.pathsep}{os.environ['PATH']}")


def test_quarto_is_used_when_on_path(fresh, tmp_path, monkeypatch):
    "The Quarto route: `quarto render findings.qmd --to html` in out_dir, its output moved into place."
    out = fresh
    _fake_quarto(tmp_path, monkeypatch, 'test -f findings.qmd && echo "<html>from quarto</html>" > "$6"')
    html = render_report(out)
    assert html.read_text() == '<html>from quarto</html>\n'
    assert (tmp_path/'quarto.args').read_text().split() == ['render', 'findings.qmd', '--to', 'html', '--output', '.findings.quarto.html']
    assert (out/'findings.md').exists() and (out/'findings.qmd').read_text().startswith('---\ntitle:')


def test_failing_quarto_falls_back_to_the_builtin_page(fresh, tmp_path, monkeypatch):
    out = fresh
    _fake_quarto(tmp_path, monkeypatch, 'echo broken >&2; exit 3')
    html = render_report(out)
    assert '<main>' in html.read_text() and not list(out.glob('.findings.quarto*'))


def test_without_quarto_auto_writes_the_builtin_page(fresh, tmp_path, monkeypatch):
    out = fresh
    monkeypatch.setenv('PATH', str(tmp_path))   # no quarto here
    assert '<main>' in render_report(out).read_text()
    with pytest.raises(InputError, match='quarto'):
        render_report(out, engine='quarto')


def test_fer_faces_as_curated_originals(fresh):
    "FER-layout faces as the curated originals: the gray statistics and thumbnails read those very files."
    out = fresh
    rows = [l.split(',')[0] for l in (out/'train.csv').read_text().splitlines()[1:] if ',original,' in l]
    fer = sorted((FER/'happy').glob('*.jpg'))
    expected = {}
    for rel, src in zip(rows, fer):
        with Image.open(src) as im: big = im.convert('L').resize((224, 224))
        big.save(out/rel); expected[rel] = np.asarray(big, dtype=float).mean()
    from facesynth_nb.diagnose import gray_sample
    gs = gray_sample(out).set_index('path')
    assert gs.gray_mean[list(expected)].to_numpy() == pytest.approx(list(expected.values()))
    picks, png = diagnose(out, ['thumbnails'])['thumbnails']
    originals = {l.split(',')[0] for sp in ('train', 'val', 'test') for l in (out/f'{sp}.csv').read_text().splitlines() if ',original,' in l}
    assert set(picks.path[picks.source == 'original']) <= originals and set(picks.path) & set(expected)
    assert png.stat().st_size > 10_000


def test_report_of_a_real_pipeline_run(run_dir):
    "Section 10 equals the status.json that export wrote, and the originals the scan kept."
    s = json.loads((run_dir/'status.json').read_text())
    md = (run_dir/'findings.md').read_text()
    m = metrics(md)
    n_orig = len((run_dir/'originals.csv').read_text().strip().splitlines()) - 1
    assert floats(m['Original count'])[0] == s['total_original'] == n_orig == 101
    assert floats(m['Combined total'])[0] == s['total_images']
    assert floats(m['Synthetic in the corpus'])[0] == s['total_synthetic']
    assert floats(m['Synthetic fraction, overall'])[0] == pytest.approx(s['synthetic_fraction'], abs=5e-5)
    assert 'untrained-model noise, not faces' in md.split('\n## 1. ')[0]
    assert (run_dir/'findings.html').read_text().count('src="data:image/png;base64,') == len(FIGURES)
    integ = section(md, 8)
    assert 'all passed' in integ and '| file_hashes | pass |' in integ and '| synthetic_provenance | pass |' in integ


# ---------------------------------------------------------------- a real browser

def _chromium():
    for name in ('chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        if path := shutil.which(name): return path


class CDP:
    "A minimal Chrome DevTools Protocol client over one page's websocket."
    def __init__(self, ws): self.ws, self.n, self.events = ws, 0, []

    def _recv(self):
        msg = json.loads(self.ws.recv())
        if 'method' in msg: self.events.append(msg)
        return msg

    def send(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({'id': self.n, 'method': method, 'params': params}))
        while True:
            msg = self._recv()
            if msg.get('id') == self.n:
                if 'error' in msg: raise RuntimeError(f'{method}: {msg["error"]}')
                return msg.get('result', {})

    def wait_for(self, method, timeout=30):
        start, deadline = len(self.events), time.time() + timeout
        while time.time() < deadline:
            if any(e['method'] == method for e in self.events[start:]): return
            self._recv()
        raise TimeoutError(method)

    def errors(self):
        "Console errors, uncaught exceptions and browser log errors seen so far."
        out = []
        for e in self.events:
            p = e.get('params', {})
            if e['method'] == 'Runtime.exceptionThrown': out.append(p['exceptionDetails'].get('text'))
            elif e['method'] == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                out.append(' '.join(str(a.get('value', a.get('description'))) for a in p.get('args', [])))
            elif e['method'] == 'Log.entryAdded' and p['entry']['level'] == 'error': out.append(p['entry']['text'])
        return out

    def open(self, url):
        "Load `url` afresh; return the <img> states and the error and request lists of this load."
        self.events.clear()
        self.send('Page.navigate', url=url)
        self.wait_for('Page.loadEventFired')
        expr = ('JSON.stringify(Array.from(document.images).map(i => ({src: i.src.slice(0, 30), complete: i.complete, '
                'w: i.naturalWidth, h: i.naturalHeight})))')
        imgs = json.loads(self.send('Runtime.evaluate', expression=expr, returnByValue=True)['result']['value'])
        reqs = [e['params']['request']['url'] for e in self.events if e['method'] == 'Network.requestWillBeSent']
        return imgs, self.errors(), reqs


@pytest.fixture
def browser():
    """Headless Chromium with a DevTools websocket; skips, saying why, when it cannot run here.
    Its profile and temp files (Chromium leaves .org.chromium.* folders in $TMPDIR) live in one temporary
    folder that is removed afterwards."""
    exe = _chromium()
    if not exe:
        pytest.skip('headless Chromium is not installed (Debian package `chromium`; `make browser-deps` installs it as root)')
    websocket = pytest.importorskip('websocket', reason='the websocket-client package (a jupyter dependency) is missing')
    scratch = tempfile.TemporaryDirectory(prefix='facesynth-chromium-')
    prof = Path(scratch.name)/'profile'
    args = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--no-first-run', '--disable-extensions', '--hide-scrollbars', f'--user-data-dir={prof}',
            '--remote-debugging-port=0', '--remote-allow-origins=*', 'about:blank']
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, 'TMPDIR': scratch.name})
    try:
        port_file, deadline = prof/'DevToolsActivePort', time.time() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None:
                pytest.skip(f'chromium could not start here: {proc.stderr.read().decode(errors="replace")[-500:]}')
            if time.time() > deadline: pytest.fail('chromium started but opened no DevTools port within 60 s')
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/json/list', timeout=10) as f:
            page = next(t for t in json.load(f) if t['type'] == 'page')
        ws = websocket.create_connection(page['webSocketDebuggerUrl'], timeout=60, suppress_origin=True)
        cdp = CDP(ws)
        for domain in ('Page', 'Runtime', 'Log', 'Network'): cdp.send(f'{domain}.enable')
        cdp.send('Emulation.setDeviceMetricsOverride', width=1200, height=900, deviceScaleFactor=1, mobile=False)
        yield cdp
        ws.close()
    finally:
        try: os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError: pass
        try: proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait(10)
        scratch.cleanup()


def test_report_in_a_real_browser(run_dir, browser, tmp_path):
    "Every <img> decodes, no console error, nothing fetched but the file itself; a screenshot is saved."
    html = run_dir/'findings.html'
    imgs, errors, reqs = browser.open(html.as_uri())
    assert len(imgs) == len(FIGURES)
    bad = [i for i in imgs if not (i['complete'] and i['w'] > 0 and i['h'] > 0)]
    assert not bad, f'images that did not decode: {bad}'
    assert errors == [], errors
    assert [u for u in reqs if not u.startswith(('file:', 'data:'))] == [], 'the page fetched something from outside'
    h = browser.send('Page.getLayoutMetrics')['cssContentSize']['height']
    shot = browser.send('Page.captureScreenshot', format='png', captureBeyondViewport=True,
                        clip=dict(x=0, y=0, width=1200, height=min(h, 20000), scale=1))
    png = tmp_path/'findings.png'
    png.write_bytes(base64.b64decode(shot['data']))
    if dest := os.environ.get('FACESYNTH_SCREENSHOT'): shutil.copy(png, dest)
    with Image.open(png) as im:
        assert im.size[0] == 1200 and im.size[1] > 3000        # the whole report, not an empty page
        assert im.convert('L').getextrema()[0] < 60            # text and plots drew something dark
    print(f'screenshot: {png}')


def test_browser_check_catches_a_broken_image_and_a_console_error(run_dir, browser, tmp_path):
    "The same check on a spoiled copy fails as it should: the browser test can fail."
    bad = tmp_path/'spoiled.html'
    page = (run_dir/'findings.html').read_text()
    page = re.sub(r'src="data:image/png;base64,[^"]+"', 'src="data:image/png;base64,AAAA"', page, count=1)
    bad.write_text(page.replace('</body>', '<script>console.error("spoiled")</script></body>'))
    imgs, errors, _ = browser.open(bad.as_uri())
    assert sum(i['w'] == 0 for i in imgs) == 1
    assert any('spoiled' in e for e in errors)
