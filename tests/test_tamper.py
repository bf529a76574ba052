"""Tamper-evident outputs, on copies of a real small run: content is checked, not only presence."""
import json, shutil
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage.data import lfw_subset

from conftest import facesynth
from facesynth_nb import cli
from facesynth_nb.config import CheckFailed, FacesynthError, InputError, save_config
from facesynth_nb.check import assert_outputs_ok, check_outputs
from facesynth_nb.io import save_png_atomic, sha256_file
from facesynth_nb.pipeline import run_pipeline


@pytest.fixture
def run(small_run, tmp_path):
    "A private copy of the session's out_dir; returns its config pointed at the copy (no mirror)."
    cfg, _ = small_run
    shutil.copytree(cfg.out_dir, tmp_path/'out')
    return cfg.updated(out_dir=str(tmp_path/'out'), mirror_root='')


def failed(out)->dict:
    return {r['check']: r for r in check_outputs(out) if not r['ok']}


def a_real_face(size=224)->Image.Image:
    "A real face from scikit-image, at the run's size and mode: it passes every format check."
    return Image.fromarray((lfw_subset()[3] * 255).astype(np.uint8)).resize((size, size), Image.BICUBIC)


def test_the_untouched_copy_passes(run):
    assert all(r['ok'] for r in assert_outputs_ok(run.out))


def test_a_swapped_curated_image_fails_naming_it(run):
    out = run.out
    m = pd.read_csv(out/'test.csv', keep_default_na=False)
    victim = m.path[0]
    (out/victim).unlink(); save_png_atomic(a_real_face(), out/victim)      # right size and mode, another face
    f = failed(out)
    assert set(f) == {'file_hashes'}, f
    assert f['file_hashes']['files'] == [victim]
    with pytest.raises(CheckFailed, match=victim.replace('.', r'\.')): assert_outputs_ok(out)


def test_a_manifest_edited_to_match_a_swap_still_fails(run):
    out = run.out
    m = pd.read_csv(out/'train.csv', keep_default_na=False)
    a, b = m.path[0], m.path[1]
    tmp = out/(a + '.new'); shutil.copy(out/b, tmp); tmp.replace(out/a)          # not through a link
    m.loc[0, 'sha256'] = m.sha256[1]; m.to_csv(out/'train.csv', index=False)   # the manifest lies too
    f = failed(out)
    assert 'file_hashes' in f and a in f['file_hashes']['files'] and 'curated.csv' in f['file_hashes']['files']


def test_a_replaced_synthetic_png_fails_and_a_rerun_refuses_it(run):
    out = run.out
    meta = pd.read_csv(out/'synthetic_meta.csv', keep_default_na=False)
    p = meta.path[0]
    (out/p).unlink(); save_png_atomic(a_real_face(), out/p)               # a real face where noise was
    f = failed(out)
    assert p in f['synthetic_provenance']['files']
    with pytest.raises(FacesynthError, match=p): run_pipeline(run)          # never shipped: the resume refuses
    assert (out/p).exists() and 'synthetic_provenance' in failed(out)


def test_an_extra_provenance_row_fails_naming_synthetic_meta(run):
    out = run.out
    meta = pd.read_csv(out/'synthetic_meta.csv', keep_default_na=False)
    extra = meta.iloc[[0]].assign(unit_id=meta.label[0] + '-099999')
    pd.concat([meta, extra]).to_csv(out/'synthetic_meta.csv', index=False)
    f = failed(out)
    assert set(f) == {'synthetic_provenance'}, f
    assert 'synthetic_meta.csv' in f['synthetic_provenance']['files']
    assert 'no accepted decision' in f['synthetic_provenance']['detail']


def test_a_provenance_row_that_disagrees_with_the_journal_fails(run):
    out = run.out
    meta = pd.read_csv(out/'synthetic_meta.csv', keep_default_na=False)
    meta.loc[0, 'sha256'] = '0' * 64
    meta.to_csv(out/'synthetic_meta.csv', index=False)
    assert meta.path[0] in failed(out)['synthetic_provenance']['files']


def test_check_refuses_a_folder_that_is_not_a_run(tmp_path):
    photos = tmp_path/'photos'; photos.mkdir(); a_real_face().save(photos/'me.png')
    with pytest.raises(InputError, match='not a facesynth out_dir'): check_outputs(photos)
    r = facesynth('check', photos)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert 'not a facesynth out_dir' in r.stderr and 'Traceback' not in r.stderr + r.stdout
    assert len(r.stderr.strip().splitlines()) == 1


def test_status_json_totals_are_checked_too(run):
    out = run.out
    st = json.loads((out/'status.json').read_text()); st['total_synthetic'] += 1
    (out/'status.json').write_text(json.dumps(st))
    assert 'status_totals' in failed(out)


# ------------------------------------------------------------ issue #20: every record verifiable
def _main(capsys, *args):
    rc = cli.main([str(a) for a in args]); cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _one_line(rc, err, code, *words):
    assert rc == code and 'Traceback' not in err, (rc, err[-2000:])
    lines = [l for l in err.splitlines() if l.startswith('facesynth: error:')]
    assert len(lines) == 1 and all(w in lines[0] for w in words), err[-2000:]


def test_a_journal_line_damaged_mid_file_stops_the_rerun_and_fails_check(run, tmp_path, capsys):
    j = run.out/'journal.jsonl'; lines = j.read_bytes().split(b'\n')
    k = next(i for i, l in enumerate(lines) if b'"accepted"' in l)
    lines[k] = lines[k][:len(lines[k]) // 2]                       # cut inside an accepted record
    j.write_bytes(b'\n'.join(lines))
    conf = save_config(run, tmp_path/'run.yaml')
    rc, _, err = _main(capsys, 'run', '--config', conf)
    _one_line(rc, err, 1, f'line {k + 1} of', 'damaged', '--restart')
    assert 'run_files' in failed(run.out)


def test_a_journal_cut_at_its_end_still_resumes(run, tmp_path, capsys):
    j = run.out/'journal.jsonl'; data = j.read_bytes()
    j.write_bytes(data[:-40])                                       # a crash mid-write of the last record
    conf = save_config(run, tmp_path/'run.yaml')
    rc, _, err = _main(capsys, 'run', '--config', conf)
    assert rc == 0, err[-2000:]
    assert not failed(run.out)


def test_a_png_in_synthetic_that_no_record_lists_fails_check(run):
    one = sorted((run.out/'synthetic').rglob('*.png'))[0]
    (one.parent/'happy-999999.png').write_bytes(one.read_bytes())
    f = failed(run.out)['synthetic_orphans']
    assert f['files'] == [(one.parent/'happy-999999.png').relative_to(run.out).as_posix()]


def test_an_edited_evaluation_verdict_fails_check_and_leaves_the_report(run):
    from facesynth_nb.evaluate import link_status, EVAL_FILE
    from facesynth_nb.report import render_report
    ev = dict(conclusion='No measurable effect.', verdict='no measurable effect', labels=[], arms={})
    (run.out/EVAL_FILE).write_text(json.dumps(ev)); link_status(run.out, ev)
    assert 'evaluation' not in failed(run.out)
    st = json.loads((run.out/'status.json').read_text())
    assert st['evaluation']['sha256'] == sha256_file(run.out/EVAL_FILE)
    ev.update(verdict='gain', conclusion='Yes: it helps.'); (run.out/EVAL_FILE).write_text(json.dumps(ev))
    st['evaluation'].update(verdict='gain', conclusion='Yes: it helps.')
    (run.out/'status.json').write_text(json.dumps(st))
    assert 'sha256 differs' in failed(run.out)['evaluation']['detail']
    r = facesynth('check', run.out)
    assert r.returncode == 1 and 'FAIL evaluation' in r.stdout and 'Traceback' not in r.stderr
    render_report(run.out)
    assert 'Does the synthetic data help' not in (run.out/'findings.md').read_text()


@pytest.mark.parametrize('damage', ['status_list', 'empty_train', 'cut_env_report'])
def test_check_on_broken_run_files_fails_without_a_traceback(damage, run, capsys):
    if damage == 'status_list': (run.out/'status.json').write_text('[]')
    if damage == 'empty_train': (run.out/'train.csv').write_text('')
    if damage == 'cut_env_report':
        p = run.out/'env_report.json'; p.write_bytes(p.read_bytes()[:100])
    rc, out, err = _main(capsys, 'check', run.out)
    assert rc == 1, (out[-2000:], err[-2000:])
    name = {'status_list': 'status.json', 'empty_train': 'train.csv', 'cut_env_report': 'env_report.json'}[damage]
    assert 'FAIL run_files' in out and name in out


def test_evaluate_with_a_curated_image_missing_is_one_line(run, capsys):
    man = pd.read_csv(run.out/'train.csv', keep_default_na=False)
    (run.out/man.path[0]).unlink()
    rc, _, err = _main(capsys, 'evaluate', run.out)
    assert rc in (1, 2) and 'Traceback' not in err, err[-2000:]
    lines = [l for l in err.splitlines() if l.startswith('facesynth: error:')]
    assert len(lines) == 1 and man.path[0].split('/')[-1] in lines[0], err[-2000:]
