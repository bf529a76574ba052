"The `facesynth` command line from the outside: the issue's run, plan without torch, exit codes, report, check."
import json, subprocess, sys
import pandas as pd
import pytest
from conftest import FER, facesynth
from facesynth_nb.report import find_placeholders

SPLITS = ('train', 'val', 'test')

@pytest.fixture(scope='module')
def fer_run(tmp_path_factory):
    "The acceptance command of the 'Report and run' issue, run once."
    out = tmp_path_factory.mktemp('cli')/'o'
    r = facesynth('run', '--raw_root', FER, '--out_dir', out, '--model_id', 'builtin:tiny', '--face_policy', 'off',
                  '--target_total', 560, '--progress', 'false')
    return out, r

def test_issue_command_exits_0_with_a_filled_report(fer_run):
    out, r = fer_run
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"report: {out/'findings.html'}" in r.stdout
    st = json.loads((out/'status.json').read_text())
    md = (out/'findings.md').read_text()
    sec10 = md[md.index('## 10.'):md.index('## 11.')]
    assert not find_placeholders(sec10), find_placeholders(sec10)
    for key in ('total_original', 'total_synthetic', 'total_images'): assert f"{st[key]:,}" in sec10 or str(st[key]) in sec10, key
    assert st['total_original'] == 210 and st['total_synthetic'] > 0
    assert 'not faces' in md[:3000]                      # builtin:tiny makes noise, and the report says so at the top

def test_issue_command_manifests_match_status_and_disk(fer_run):
    out, _ = fer_run
    st = json.loads((out/'status.json').read_text())
    man = pd.concat([pd.read_csv(out/f'{s}.csv') for s in SPLITS])
    assert len(man) == st['total_images'] == len(list((out/'curated').rglob('*.png')))
    assert (man.source == 'synthetic').sum() == st['total_synthetic']
    assert set(man[man.source == 'synthetic'].path.str.split('/').str[1]) == {'train'}
    g = st['synthetic_generation']                        # every candidate is accepted, rejected with a reason, or exhausted
    assert sum(g['rejects_by_reason'].values()) == g['rejected'] == g['candidates'] - g['accepted'] - g['exhausted']
    meta = pd.read_csv(out/'synthetic_meta.csv')
    assert len(meta) == g['accepted'] and meta.path.map(lambda p: (out/p).is_file()).all()
    assert meta[['unit_id', 'seed', 'prompt', 'phash', 'blur_var', 'sha256', 'config_hash', 'model_id']].notna().all().all()

def test_check_passes_then_fails_on_a_tampered_run(fer_run, tmp_path):
    out, _ = fer_run
    assert facesynth('check', out).returncode == 0
    import shutil; bad = tmp_path/'bad'; shutil.copytree(out, bad, symlinks=True)
    victim = next((bad/'curated'/'test').rglob('*.png')); victim.unlink()
    r = facesynth('check', bad)
    assert r.returncode == 1 and 'FAIL' in r.stdout and victim.name in r.stdout + r.stderr

def test_report_rerenders_from_files(fer_run):
    out, _ = fer_run
    (out/'findings.html').unlink()
    r = facesynth('report', out)
    assert r.returncode == 0 and (out/'findings.html').exists()

def test_plan_loads_no_model_library(tmp_path):
    code = ("import sys; from facesynth_nb.cli import main; "
            f"rc = main(['plan', '--raw_root', {str(FER)!r}, '--out_dir', {str(tmp_path)!r}, '--target_total', '83000', '--progress', 'false']); "
            "assert rc == 0; assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, 'plan imported a model library'")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    plan = pd.read_csv(tmp_path/'plan.csv', index_col='label')
    assert plan.loc['disgust', 'target'] == 11858 and 'disgust' in r.stdout

def test_dry_run_prints_estimates_and_generates_nothing(tmp_path):
    r = facesynth('run', '--raw_root', FER, '--out_dir', tmp_path/'o', '--dry-run', '--progress', 'false')
    assert r.returncode == 0, r.stderr
    est = json.loads(r.stdout[r.stdout.index('{'):])
    assert est['planned'] > 0 and est['disk_bytes'] > 0 and est['free_bytes'] > 0
    assert not (tmp_path/'o'/'journal.jsonl').exists()

def test_bad_config_exits_2_naming_the_key(tmp_path):
    cfgf = tmp_path/'c.yaml'; cfgf.write_text('target_totl: 10\n')
    r = facesynth('run', '--config', cfgf, '--raw_root', tmp_path, '--out_dir', tmp_path/'o')
    assert r.returncode == 2 and 'target_totl' in r.stderr
    cfgf.write_text('synthetic_cap: lots\n')
    r = facesynth('run', '--config', cfgf)
    assert r.returncode == 2 and 'synthetic_cap' in r.stderr
    r = facesynth('run', '--face_policy', 'two')
    assert r.returncode == 2 and 'face_policy' in r.stderr

def test_help_lists_every_setting_with_its_default():
    from facesynth_nb.config import RunConfig
    import dataclasses
    h = ' '.join(facesynth('run', '--help').stdout.split())   # argparse wraps lines
    for f in dataclasses.fields(RunConfig): assert f'--{f.name}' in h, f.name
    assert '(default: 20250924)' in h and '(default: 0.6)' in h
