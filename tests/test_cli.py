"The `facesynth` command line from the outside: the issue's run, plan without torch, exit codes, report, check."
import json, re, subprocess, sys
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
    assert f"facesynth evaluate {out}" in r.stdout and f"open {out/'findings.html'}" in r.stdout   # what comes next
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
    r = facesynth('run', '--raw-root', FER, '--out-dir', tmp_path/'o', '--dry-run', '--progress', 'false')
    assert r.returncode == 0, r.stderr
    disk = re.search(r'^disk needed: about [\d.]+ (KB|MB|GB) \(.* per original, .* per synthetic image\); '
                     r'[\d.]+ (MB|GB|TB) free$', r.stdout, re.M)
    assert disk and re.search(r'^synthetic images planned: [\d,]+ ', r.stdout, re.M), r.stdout
    assert 'time: unknown: a dry run loads no model' in r.stdout and 'null' not in r.stdout
    assert not (tmp_path/'o'/'journal.jsonl').exists()

def test_dry_run_refuses_a_misspelt_model_before_the_scan(tmp_path):
    r = facesynth('run', '--raw_root', FER, '--out_dir', tmp_path/'o', '--model_id', 'builtin:tiyn', '--dry-run')
    assert r.returncode == 2 and "did you mean 'builtin:tiny'?" in r.stderr, r.stderr
    assert not (tmp_path/'o').exists()                     # refused before out_dir was claimed or raw_root scanned

def test_kebab_case_options_and_value_typos(tmp_path):
    r = facesynth('plan', '--raw-root', FER, '--out-dir', tmp_path/'p', '--target-total', 700, '--progress', 'false')
    assert r.returncode == 0, r.stderr
    assert pd.read_csv(tmp_path/'p'/'plan.csv').target.sum() == 700
    r = facesynth('run', '--raw_root', FER, '--out_dir', tmp_path/'o', '--face-policy', 'singel')
    assert r.returncode == 2
    assert "--face_policy 'singel' is not allowed" in r.stderr and "did you mean 'single'?" in r.stderr, r.stderr
    assert 'RunConfig.' not in r.stderr

def test_unfinished_run_check_evaluate_and_a_fixed_model(tmp_path):
    "A run whose model failed to load: check and evaluate give the resume command; the model may be fixed."
    out = tmp_path/'o'
    r = facesynth('run', '--raw_root', FER, '--out_dir', out, '--model_id', 'nobody/not-cached-xyz', '--face_policy', 'off',
                  '--target_total', 280, '--progress', 'false')
    assert r.returncode == 2 and 'not in the local Hugging Face cache' in r.stderr, r.stderr
    for cmd in ('check', 'evaluate'):
        r = facesynth(cmd, out)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert 'has not finished' in r.stderr and f'resume it with: facesynth run --out_dir {out} ' in r.stderr
        assert '--model_id nobody/not-cached-xyz' in r.stderr and '--target_total 280' in r.stderr
        lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
        assert len(lines) == len(set(lines)) == 1, lines     # one line, said once
    r = facesynth('run', '--raw_root', FER, '--out_dir', out, '--model_id', 'builtin:tiny', '--face_policy', 'off',
                  '--target_total', 280, '--progress', 'false', '--dry-run')
    assert r.returncode == 0, r.stderr                     # nothing was made: a fixed model needs no --restart
    assert json.loads((out/'run.json').read_text())['config']['model_id'] == 'builtin:tiny'

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
