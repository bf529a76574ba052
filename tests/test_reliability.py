"""Reliability and safety from the outside: kill anywhere and resume to the same result, refuse unsafe set-ups
(exit 2, before any work), survive bad files, stop gracefully on a signal, and repeat a run exactly."""
import json, os, signal, shutil, subprocess, sys, time
from pathlib import Path
import imagehash, pandas as pd
import pytest
from PIL import Image
from conftest import FER, facesynth, start_facesynth, wait_for, kill_group, HANG_S
from facesynth_nb.io import tree_hash

SPLITS = ('train', 'val', 'test')
# a small, fast run: 2 synthetic images per class on the FER sample (30 originals per class), 2 steps at 128 px
ARGS = ('--model_id', 'builtin:tiny', '--face_policy', 'off', '--target_total', 224, '--num_inference_steps', 2,
        '--gen_size', 128, '--batch_size', 4, '--progress', 'false')   # noise at 128 px: image size is not under test

def run_args(out, raw=FER): return ('run', '--raw_root', raw, '--out_dir', out, *ARGS)

def outputs(out:Path)->dict:
    "What must be equal between an interrupted-then-resumed run and an uninterrupted one."
    meta = pd.read_csv(out/'synthetic_meta.csv').drop(columns=['timestamp'])
    cur = sorted((out/'curated').rglob('*.png'))
    return dict(manifests={s: (out/f'{s}.csv').read_text() for s in SPLITS}, meta=meta.to_csv(index=False),
                phash={p.relative_to(out).as_posix(): str(imagehash.phash(Image.open(p))) for p in cur})

def no_torn_files(out:Path):
    assert not [p for p in out.rglob('*') if p.name.endswith(('.tmp', '.part'))]
    ids = [json.loads(l)['unit_id'] for l in (out/'journal.jsonl').read_text().splitlines()]
    assert len(ids) == len(set(ids)), 'a unit was journaled twice'

@pytest.fixture(scope='module')
def baseline(tmp_path_factory):
    raw_hash = tree_hash(FER)
    out = tmp_path_factory.mktemp('base')/'o'
    r = facesynth(*run_args(out)); assert r.returncode == 0, r.stderr[-3000:]
    assert tree_hash(FER) == raw_hash
    return out, outputs(out)

# ---------------------------------------------------------------- kill anywhere, resume, same result
KILL_POINTS = {   # stage -> (a file that shows the stage has started, a file that shows it has not finished)
    'generation': (lambda o: (o/'journal.jsonl').exists(), 'synthetic_meta.csv'),
    'export': (lambda o: (o/'curated').exists() and any((o/'curated').rglob('*.png')), 'status.json'),
    'report': (lambda o: (o/'plots').exists(), 'findings.html'),
}

@pytest.mark.parametrize('stage', list(KILL_POINTS))
def test_sigkill_then_rerun_gives_the_same_outputs(stage, baseline, tmp_path):
    base_out, base = baseline
    started, unfinished = KILL_POINTS[stage]
    out = tmp_path/'o'
    p = start_facesynth(*run_args(out))
    assert wait_for(lambda: started(out), p), f'the run ended before reaching {stage}'
    kill_group(p)
    assert p.returncode == -signal.SIGKILL
    assert not (out/unfinished).exists(), f'{stage} had already finished when the kill landed'
    r = facesynth(*run_args(out)); assert r.returncode == 0, r.stderr[-3000:]
    no_torn_files(out)
    assert outputs(out) == base

def test_two_runs_are_identical(baseline, tmp_path):
    _, base = baseline
    out = tmp_path/'again'
    assert facesynth(*run_args(out)).returncode == 0
    assert outputs(out) == base
    env = json.loads((out/'env_report.json').read_text())
    assert {'torch', 'diffusers', 'numpy'} <= set(json.dumps(env).replace('"', ' ').split()) or 'torch' in json.dumps(env)

# the run kills itself at the journal append that follows the first written acceptance: the accepted PNGs
# are on disk (written by the writer threads), their journal lines are not
KILL_BEFORE_JOURNAL = """
import os, signal, sys
from facesynth_nb import io, cli
real = io.Journal.append
def append(self, records):
    if any(r.get('status') == 'accepted' for r in records): os.kill(os.getpid(), signal.SIGKILL)
    real(self, records)
io.Journal.append = append
sys.exit(cli.main(sys.argv[1:]))
"""

def test_sigkill_between_write_and_journal_resumes_identically(baseline, tmp_path):
    _, base = baseline
    out = tmp_path/'o'
    env = {**os.environ, 'PYTHONHASHSEED': '0', 'MPLBACKEND': 'Agg', 'HF_HUB_OFFLINE': '1'}
    log = tmp_path/'stderr.txt'
    cmd = [sys.executable, '-c', KILL_BEFORE_JOURNAL, *map(str, run_args(out))]
    with open(log, 'w') as f:            # not a pipe: orphaned gate workers would keep it open
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=f,
                             start_new_session=True)
        p.wait(timeout=HANG_S)
    try: os.killpg(p.pid, signal.SIGKILL)          # its gate workers, left without their parent
    except ProcessLookupError: pass
    assert p.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    j = out/'journal.jsonl'
    lines = j.read_text().splitlines() if j.exists() else []
    journaled = {json.loads(line)['unit_id'] for line in lines}
    written = {f.stem for f in (out/'synthetic').rglob('*.png')}
    assert written and not written & journaled      # files durable, not one of them journaled
    r = facesynth(*run_args(out)); assert r.returncode == 0, r.stderr[-3000:]
    no_torn_files(out)
    assert outputs(out) == base

# ---------------------------------------------------------------- graceful stop
def start_until_generating(out:Path):
    "Start the small run into `out` and return once its first decisions are journaled."
    p = start_facesynth(*run_args(out))
    assert wait_for(lambda: (out/'journal.jsonl').exists(), p), 'the run ended before generating'
    return p

def test_sigterm_finishes_the_batch_releases_the_lock_and_resumes(baseline, tmp_path):
    _, base = baseline
    out = tmp_path/'o'
    p = start_until_generating(out)
    os.kill(p.pid, signal.SIGTERM)
    _, err = p.communicate(timeout=HANG_S)
    assert p.returncode == 130, err[-2000:]
    assert 'resume with: facesynth run' in err and not (out/'run.lock').exists()
    assert not (out/'synthetic_meta.csv').exists() or not (out/'status.json').exists()
    assert facesynth(*run_args(out)).returncode == 0
    no_torn_files(out); assert outputs(out) == base

def test_second_ctrl_c_stops_at_once_without_torn_files(baseline, tmp_path):
    _, base = baseline
    out = tmp_path/'o'
    p = start_until_generating(out)
    os.kill(p.pid, signal.SIGINT); time.sleep(0.05); os.kill(p.pid, signal.SIGINT)
    p.communicate(timeout=HANG_S)
    assert p.returncode == 130
    for f in (out/'synthetic').rglob('*.png'): Image.open(f).load()     # every image that exists is whole
    assert facesynth(*run_args(out)).returncode == 0
    no_torn_files(out); assert outputs(out) == base

# ---------------------------------------------------------------- refusals: exit 2, before any work
def _small_raw(root:Path)->Path:
    for i, lb in enumerate(['happy', 'sad'] * 3):
        (root/lb).mkdir(parents=True, exist_ok=True)
        Image.effect_noise((48, 48), 40 + i).save(root/lb/f'{i}.png')
    return root

def test_refuses_out_dir_inside_or_equal_to_raw_root(tmp_path):
    raw = _small_raw(tmp_path/'raw'); h = tree_hash(raw)
    for out in (raw, raw/'out', raw/'happy'/'x'):
        r = facesynth('run', '--raw_root', raw, '--out_dir', out, *ARGS)
        assert r.returncode == 2 and 'inside raw_root' in r.stderr, r.stderr
    r = facesynth('run', '--raw_root', raw, '--out_dir', tmp_path/'o', '--mirror_root', raw/'m', *ARGS)
    assert r.returncode == 2 and 'mirror_root' in r.stderr
    assert tree_hash(raw) == h and not (tmp_path/'o'/'journal.jsonl').exists()

def test_refuses_missing_or_empty_raw_root(tmp_path):
    r = facesynth('run', '--raw_root', tmp_path/'nope', '--out_dir', tmp_path/'o', *ARGS)
    assert r.returncode == 2 and 'does not exist' in r.stderr
    (tmp_path/'empty'/'happy').mkdir(parents=True)
    r = facesynth('run', '--raw_root', tmp_path/'empty', '--out_dir', tmp_path/'o', *ARGS)
    assert r.returncode == 2 and 'empty' in r.stderr

def test_refuses_another_config_in_a_used_out_dir_and_restart_moves_it_aside(tmp_path):
    raw = _small_raw(tmp_path/'raw'); out = tmp_path/'o'
    assert facesynth('run', '--raw_root', raw, '--out_dir', out, '--dry-run', *ARGS).returncode == 0
    (out/'run.json').write_text(json.dumps({'config_hash': 'x', 'config': {'seed': 1, 'blur_var_min': 3.0}}))
    (out/'journal.jsonl').write_text('{"unit_id": "angry-000000"}\n')   # it made something: its config holds
    r = facesynth('run', '--raw_root', raw, '--out_dir', out, *ARGS)
    assert r.returncode == 2 and 'blur_var_min' in r.stderr and 'seed' in r.stderr and '--restart' in r.stderr
    r = facesynth('run', '--raw_root', raw, '--out_dir', out, '--restart', '--face_policy', 'off', *ARGS[:2], '--target_total', 8,
                  '--num_inference_steps', 2, '--blur_var_min', 0, '--progress', 'false')
    assert r.returncode in (0, 1), r.stderr[-2000:]
    aside = list(tmp_path.glob('o.old-*'))
    assert len(aside) == 1 and json.loads((aside[0]/'run.json').read_text())['config_hash'] == 'x'

def test_refuses_a_second_concurrent_run_but_takes_over_a_stale_lock(tmp_path):
    raw = _small_raw(tmp_path/'raw'); out = tmp_path/'o'; out.mkdir()
    holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        (out/'run.lock').write_text(json.dumps({'pid': holder.pid, 'host': os.uname().nodename}))
        r = facesynth('run', '--raw_root', raw, '--out_dir', out, *ARGS)
        assert r.returncode == 2 and f'pid {holder.pid}' in r.stderr
    finally: holder.kill(); holder.wait()
    r = facesynth('run', '--raw_root', raw, '--out_dir', out, '--dry-run', *ARGS)   # the holder is gone: stale
    assert r.returncode == 0, r.stderr

def test_refuses_when_the_disk_is_too_small_unless_forced(tmp_path, monkeypatch):
    import facesynth_nb.pipeline as pl
    from facesynth_nb.config import RunConfig, InputError
    raw = _small_raw(tmp_path/'raw')
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp_path/'o'), model_id='builtin:tiny', face_policy='off', target_total=8,
                    num_inference_steps=2, blur_var_min=0.0, progress=False, workers=1)
    monkeypatch.setattr(pl.shutil, 'disk_usage', lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(InputError, match='not enough free disk') as e: pl.run_pipeline(cfg)
    assert 'GB' in str(e.value) and not (tmp_path/'o'/'journal.jsonl').exists()
    assert pl.run_pipeline(cfg, force=True).status['total_images'] > 0

# ---------------------------------------------------------------- bad files never stop a run
def test_bad_files_are_quarantined_and_the_run_goes_on(tmp_path):
    raw = _small_raw(tmp_path/'raw')
    (raw/'happy'/'zero.png').write_bytes(b'')
    (raw/'happy'/'text.jpg').write_text('not an image')
    good = (raw/'sad'/'1.png').read_bytes(); (raw/'sad'/'trunc.png').write_bytes(good[:len(good)//2])
    (raw/'sad'/'.DS_Store').write_bytes(b'\0\1'); (raw/'sad'/'Thumbs.db').write_bytes(b'\0\1')
    os.symlink('/etc/hostname', raw/'happy'/'outside.png')
    h = tree_hash(raw)
    r = facesynth('run', '--raw_root', raw, '--out_dir', tmp_path/'o', *ARGS[:4], '--target_total', 8,
                  '--num_inference_steps', 2, '--blur_var_min', 0, '--progress', 'false')
    assert r.returncode in (0, 1), r.stderr[-3000:]
    q = pd.read_csv(tmp_path/'o'/'quarantine.csv')
    got = dict(zip(q.path.map(lambda p: Path(p).name), q.reason))
    assert got == {'zero.png': 'zero_byte', 'text.jpg': 'not_image', 'trunc.png': 'truncated', 'outside.png': 'symlink_outside'}, got
    assert json.loads((tmp_path/'o'/'status.json').read_text())['total_original'] == 6
    assert tree_hash(raw) == h

def test_fer_csv_with_malformed_rows(tmp_path):
    import numpy as np
    rng = np.random.default_rng(0)
    rows = ['emotion,pixels,Usage'] + [f"{i % 7},{' '.join(map(str, rng.integers(0, 255, 2304)))},Training" for i in range(28)]
    rows += ['3,1 2 3,Training', f"x,{' '.join(['9'] * 2304)},Training", f"9,{' '.join(['9'] * 2304)},PublicTest",
             f"2,{' '.join(['a'] * 2304)},PrivateTest"]
    csv = tmp_path/'raw'/'fer2013.csv'; csv.parent.mkdir(); csv.write_text('\n'.join(rows) + '\n')
    h = tree_hash(csv.parent)
    r = facesynth('run', '--raw_root', csv, '--out_dir', tmp_path/'o', '--dry-run', '--progress', 'false')
    assert r.returncode == 0, r.stderr[-2000:]
    q = pd.read_csv(tmp_path/'o'/'quarantine.csv')
    assert len(q) == 4 and set(q.reason) == {'csv_malformed'} and q.path.str.contains('row=').all()
    assert tree_hash(csv.parent) == h
