"""Hostile and careless inputs (issue #12): every path the run writes stays inside out_dir, a
folder that is not ours is never adopted, one run state per out_dir, one line and exit 2 for a
user's error, signals to the process group end with 130 and a whole journal, and nothing is
dropped in silence."""

import errno, json, os, signal, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from conftest import facesynth, start_facesynth, wait_for, HANG_S
from facesynth_nb.config import InputError, RunConfig, check_label
from facesynth_nb.io import is_inside, tree_hash
from facesynth_nb.ingest import normalize_label, csv_image_path, FER_LABELS
from facesynth_nb.plan import unit_id
from facesynth_nb.pipeline import make_demo_raw_root, check_raw_identity, RUN_FILE
from facesynth_nb import cli

FAST = (
    '--model_id',
    'builtin:tiny',
    '--face_policy',
    'off',
    '--num_inference_steps',
    2,
    '--gen_size',
    128,
    '--progress',
    'false',
)


@pytest.fixture(scope='module')
def demo_raw(tmp_path_factory):
    "The demo dataset (101 real scikit-image faces in 7 class folders), made once per module."
    return make_demo_raw_root(tmp_path_factory.mktemp('demo') / 'raw')


def one_line_error(r, *words):
    "The command failed: exit 2, one `facesynth: error:` line holding `words`, no traceback."
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert 'Traceback' not in r.stderr, r.stderr[-3000:]
    errs = [l for l in r.stderr.splitlines() if l.startswith('facesynth: error:')]
    assert len(errs) == 1, r.stderr[-2000:]
    for w in words:
        assert w in errs[0], errs[0]
    return errs[0]


def pngs_under(root: Path) -> list:
    return sorted(root.rglob('*.png'))


# ------------------------------------------------------------ 1. hostile labels, from each source
@pytest.mark.parametrize(
    'value', ['../../R/x', '/tmp/facesynth_hostile_abs', '..', '.hidden', 'a\\b', 'x\x01y']
)
def test_label_map_values_are_refused_before_any_write(value, demo_raw, tmp_path):
    h = tree_hash(demo_raw)
    r = facesynth(
        'run',
        '--raw_root',
        demo_raw,
        '--out_dir',
        tmp_path / 'o',
        *FAST,
        '--target_total',
        140,
        '--label_map',
        json.dumps({'happy': value}),
    )
    one_line_error(r, 'label_map', 'refused')
    assert tree_hash(demo_raw) == h and not (tmp_path / 'o').exists()
    assert not Path('/tmp/facesynth_hostile_abs').exists()


def test_csv_raw_root_with_hostile_label_map_writes_nothing(tmp_path):
    raw = tmp_path / 'R'
    raw.mkdir()
    px = ' '.join(['128'] * 2304)
    (raw / 'fer2013.csv').write_text(
        'emotion,pixels,Usage\n' + ''.join(f'{i % 7},{px},Training\n' for i in range(14))
    )
    h = tree_hash(raw)
    for cmd in ('plan', 'run'):
        r = facesynth(
            cmd,
            '--raw_root',
            raw / 'fer2013.csv',
            '--out_dir',
            tmp_path / 'o',
            *FAST,
            '--label_map',
            json.dumps({'happy': '../../R/x'}),
        )
        one_line_error(r, 'label_map')
    assert tree_hash(raw) == h and not pngs_under(tmp_path)


@pytest.mark.parametrize('name', ['a\\b', 'x:y', 'bell\x07'])
def test_class_folder_names_that_are_not_safe_labels_are_refused_at_plan_time(name, tmp_path):
    raw = make_demo_raw_root(tmp_path / 'raw')
    (raw / 'happy').rename(raw / name)
    r = facesynth('plan', '--raw_root', raw, '--out_dir', tmp_path / 'o', *FAST)
    one_line_error(r, 'class folder', 'refused')
    assert not (tmp_path / 'o' / 'plan.csv').exists()


def test_prompt_file_labels_are_checked(demo_raw, tmp_path):
    pf = tmp_path / 'p.yaml'
    pf.write_text('prompts:\n  "../../escape": ["a photo of {person}"]\n')
    r = facesynth(
        'run', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST, '--prompts_file', pf
    )
    one_line_error(r, 'prompts.../../escape', 'refused')
    assert not (tmp_path / 'o' / 'journal.jsonl').exists()


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(min_size=0, max_size=80)
    | st.sampled_from(['..', '.', '/', '\\', '../x', 'C:\\x', '~', ' a ', 'a/..'])
)
def test_fuzz_a_label_is_refused_or_every_path_built_from_it_stays_inside(label):
    out = Path(
        '/tmp/facesynth_fuzz_out'
    )  # never written: is_inside resolves paths without touching them
    try:
        lab = check_label(normalize_label(label), 'fuzz')
    except InputError as e:
        assert 'fuzz' in str(e)
        return
    paths = [csv_image_path(out, s, lab, 7) for s in ('', 'train', 'val', 'test')]
    paths += [
        out / 'synthetic' / lab / f'{unit_id(lab, 3)}.png',
        out / 'synthetic_cropped' / lab / f'{unit_id(lab, 3)}.png',
        out / 'curated' / 'train' / lab / 'x.png',
        out / 'rejects' / 'blur' / f'{unit_id(lab, 0)}.png',
    ]
    for p in paths:
        assert is_inside(p, out), p
        assert p.parent.name == lab or p.parent.name == 'blur'


# ------------------------------------------------------------ 2. a folder not ours is never adopted
def test_foreign_out_dir_is_refused_and_left_untouched(demo_raw, tmp_path):
    out = tmp_path / 'mine'
    (out / 'notes').mkdir(parents=True)
    (out / 'notes' / 'draft.tmp').write_text('my notes')
    (out / 'curated').mkdir()
    (out / 'curated' / 'README.txt').write_text('my readme')
    h = tree_hash(out)
    for args in (('run',), ('run', '--dry-run'), ('plan',), ('run', '--restart')):
        r = facesynth(*args, '--raw_root', demo_raw, '--out_dir', out, *FAST)
        one_line_error(r, 'holds no facesynth run')
    assert tree_hash(out) == h


def test_an_empty_existing_folder_is_a_fine_out_dir(demo_raw, tmp_path):
    (tmp_path / 'o').mkdir()
    r = facesynth(
        'plan', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST, '--target_total', 140
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / 'o' / RUN_FILE).read_text())['kind'] == 'plan'


def test_out_dir_that_is_a_file_and_raw_inside_out(demo_raw, tmp_path):
    f = tmp_path / 'file'
    f.write_text('x')
    one_line_error(facesynth('plan', '--raw_root', demo_raw, '--out_dir', f, *FAST), 'is a file')
    one_line_error(
        facesynth('plan', '--raw_root', demo_raw, '--out_dir', demo_raw.parent, *FAST),
        'inside out_dir',
    )


# ---------------------------------------------------------------- 3. one run state, guarded
def test_plan_respects_a_running_lock_and_a_pinned_run(demo_raw, tmp_path):
    out = tmp_path / 'o'
    assert (
        facesynth(
            'plan', '--raw_root', demo_raw, '--out_dir', out, *FAST, '--target_total', 140
        ).returncode
        == 0
    )
    plan = (out / 'plan.csv').read_text()
    holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        (out / 'run.lock').write_text(json.dumps({'pid': holder.pid, 'host': os.uname().nodename}))
        for args in (('plan',), ('run', '--dry-run')):
            r = facesynth(
                *args, '--raw_root', demo_raw, '--out_dir', out, *FAST, '--target_total', 700
            )
            one_line_error(r, f'pid {holder.pid}')
        assert (out / 'plan.csv').read_text() == plan
    finally:
        holder.kill()
        holder.wait()
    (out / 'run.lock').unlink()
    run = json.loads((out / RUN_FILE).read_text())
    run['kind'] = 'run'  # as if generation had started
    (out / RUN_FILE).write_text(json.dumps(run))
    (out / 'journal.jsonl').write_text('{"unit_id": "angry-000000"}\n')  # and had decided a candidate
    r = facesynth('plan', '--raw_root', demo_raw, '--out_dir', out, *FAST, '--target_total', 700)
    one_line_error(r, 'another config', 'target_total')
    assert (out / 'plan.csv').read_text() == plan


def test_a_lock_from_another_host_is_not_taken_over(demo_raw, tmp_path):
    out = tmp_path / 'o'
    out.mkdir()
    (out / 'run.lock').write_text(json.dumps({'pid': 1, 'host': 'some-other-node'}))
    r = facesynth('plan', '--raw_root', demo_raw, '--out_dir', out, *FAST)
    one_line_error(r, "host 'some-other-node'", 'delete')
    assert json.loads((out / 'run.lock').read_text())['host'] == 'some-other-node'


@pytest.mark.parametrize(
    'content',
    ['', 'null', '[]', '["config_hash"]', '{"config_hash": "ab', '{"kind": "run"}', '\xff\xfe'],
)
def test_damaged_run_json_is_refused_with_advice_that_works(content, demo_raw, tmp_path):
    out = tmp_path / 'o'
    out.mkdir()
    (out / RUN_FILE).write_bytes(content.encode('latin-1'))
    r = facesynth('run', '--raw_root', demo_raw, '--out_dir', out, *FAST)
    one_line_error(r, 'is not a facesynth run record', '--restart')
    r = facesynth(
        'run',
        '--raw_root',
        demo_raw,
        '--out_dir',
        out,
        *FAST,
        '--restart',
        '--dry-run',
        '--target_total',
        140,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    aside = list(tmp_path.glob('o.old-*'))
    assert len(aside) == 1 and (aside[0] / RUN_FILE).read_bytes() == content.encode('latin-1')
    assert json.loads((out / RUN_FILE).read_text())['kind'] == 'plan'


def test_resume_over_a_changed_raw_root_is_refused(demo_raw, tmp_path):
    import shutil
    from facesynth_nb.ingest import scan_raw_root

    raw = tmp_path / 'raw'
    shutil.copytree(demo_raw, raw)
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp_path / 'o'), progress=False, workers=1)
    cfg.out.mkdir()
    (cfg.out / RUN_FILE).write_text(json.dumps({'config_hash': 'h', 'config': {}, 'kind': 'run'}))
    first = check_raw_identity(cfg, scan_raw_root(cfg))
    assert json.loads((cfg.out / RUN_FILE).read_text())['raw'] == first
    moved = tmp_path / 'moved'
    raw.rename(moved)  # same content elsewhere: resumes
    assert check_raw_identity(
        cfg.updated(raw_root=str(moved)), scan_raw_root(cfg.updated(raw_root=str(moved)))
    )
    (moved / 'sad' / 'demo_004.png').unlink()
    with pytest.raises(InputError, match='not the dataset this run'):
        check_raw_identity(
            cfg.updated(raw_root=str(moved)), scan_raw_root(cfg.updated(raw_root=str(moved)))
        )


# ------------------------------------------------------------ 4. one line, exit 2; signals end 130
def _main(capsys, *args):
    rc = cli.main([str(a) for a in args])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize(
    'code, words',
    [
        (errno.ENOSPC, 'no space left'),
        (errno.EROFS, 'read-only'),
        (errno.EACCES, 'permission denied'),
    ],
)
def test_disk_errors_are_one_line_and_exit_2(code, words, demo_raw, tmp_path, monkeypatch, capsys):
    import facesynth_nb.io as fio

    def fail(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(fio.os, 'replace', fail)
    rc, err = _main(capsys, 'plan', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST)
    assert rc == 2 and 'Traceback' not in err
    lines = [l for l in err.splitlines() if l.startswith('facesynth: error:')]
    assert len(lines) == 1 and words in lines[0] and 'run.json' in lines[0], err


def test_journal_write_out_of_space_is_one_line(demo_raw, tmp_path, monkeypatch, capsys):
    import facesynth_nb.io as fio

    real_open = open

    def full_open(path, mode='r', *a, **k):
        if str(path).endswith('journal.jsonl') and 'a' in mode:
            raise OSError(errno.ENOSPC, 'No space left on device', str(path))
        return real_open(path, mode, *a, **k)

    monkeypatch.setattr(fio, 'open', full_open, raising=False)
    rc, err = _main(
        capsys,
        'run',
        '--raw_root',
        demo_raw,
        '--out_dir',
        tmp_path / 'o',
        *FAST,
        '--target_total',
        140,
        '--workers',
        1,
        '--batch_size',
        2,
    )
    assert (
        rc == 2
        and 'no space left on the device at' in err
        and 'journal.jsonl' in err
        and 'Traceback' not in err
    )
    assert not (tmp_path / 'o' / 'status.json').exists()  # nothing presented as complete


def test_user_errors_without_traceback(demo_raw, tmp_path):
    cfgf = tmp_path / 'c.yaml'
    cfgf.write_bytes('raw_root: caf\xe9\n'.encode('latin-1'))
    one_line_error(facesynth('plan', '--config', cfgf), 'not UTF-8')
    cfgf.write_text('face_policy: off\n')
    one_line_error(
        facesynth('plan', '--config', cfgf, '--raw_root', demo_raw, '--out_dir', tmp_path / 'o'),
        'quote it, e.g.',
    )
    r = facesynth(
        'run',
        '--raw_root',
        demo_raw,
        '--out_dir',
        tmp_path / 'o2',
        *FAST,
        '--face_detector',
        'mtcnn',
    )
    one_line_error(r, "face_detector='mtcnn'")
    assert not (tmp_path / 'o2').exists()  # refused before anything was written
    (tmp_path / 'foreign').mkdir()
    (tmp_path / 'foreign' / 'x.txt').write_text('x')
    one_line_error(facesynth('check', tmp_path / 'foreign'), 'is not a facesynth out_dir')
    one_line_error(facesynth('check', tmp_path / 'nope'), 'is not a folder')


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_process_group_exits_130_with_the_journal_intact(sig, demo_raw, tmp_path):
    out = tmp_path / 'o'
    p = start_facesynth(
        'run',
        '--raw_root',
        demo_raw,
        '--out_dir',
        out,
        '--model_id',
        'builtin:tiny',
        '--face_policy',
        'off',
        '--num_inference_steps',
        2,
        '--target_total',
        700,
        '--workers',
        2,
        '--batch_size',
        4,
        '--progress',
        'false',
    )
    assert wait_for(lambda: (out / 'journal.jsonl').exists(), p), 'the run ended before generating'
    os.killpg(p.pid, sig)  # what docker stop / systemd / Slurm / Ctrl-C do
    _, err = p.communicate(timeout=HANG_S)
    assert p.returncode == 130, err[-3000:]
    assert 'Traceback' not in err and 'BrokenProcessPool' not in err, err[-3000:]
    assert 'facesynth run' in err and not (out / 'run.lock').exists()
    lines = (out / 'journal.jsonl').read_text().splitlines()
    assert lines and all(json.loads(l)['unit_id'] for l in lines)
    for r in map(json.loads, lines):
        if r['status'] == 'accepted':
            assert (out / r['path']).is_file()
    assert not (out / 'status.json').exists()


# ---------------------------------------------------------------- 5. nothing dropped in silence
def test_hidden_class_folder_is_reported(tmp_path):
    raw = make_demo_raw_root(tmp_path / 'raw')
    (raw / 'angry').rename(raw / '.angry')
    r = facesynth(
        'plan', '--raw_root', raw, '--out_dir', tmp_path / 'o', *FAST, '--target_total', 140
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'hidden folder .angry' in r.stderr
    q = pd.read_csv(tmp_path / 'o' / 'quarantine.csv')
    assert q[q.reason == 'hidden'].path.tolist() == ['.angry']


def test_a_stray_quote_costs_one_record_and_row_ids_stay_true(tmp_path):
    import numpy as np

    rng = np.random.default_rng(1)
    rows = [f"{i % 7},{' '.join(map(str, rng.integers(0, 255, 2304)))},Training" for i in range(21)]
    rows[3] = rows[3].replace(',', ',"', 1)  # a stray quote opens the pixels field of row 3
    raw = tmp_path / 'raw'
    raw.mkdir()
    (raw / 'fer.csv').write_text('emotion,pixels,Usage\n' + '\n'.join(rows) + '\n')
    r = facesynth(
        'plan', '--raw_root', raw / 'fer.csv', '--out_dir', tmp_path / 'o', '--progress', 'false'
    )
    assert r.returncode == 0, r.stderr[-2000:]
    q = pd.read_csv(tmp_path / 'o' / 'quarantine.csv')
    assert q.path.tolist() == ['fer.csv#row=3'] and q.detail[0].startswith('line 5:')
    o = pd.read_csv(tmp_path / 'o' / 'originals.csv')
    assert len(o) == 20 and 'fer.csv#row=4' in set(o.orig_id)
    row4 = o.set_index('orig_id').loc['fer.csv#row=4']
    assert row4.label == FER_LABELS[4 % 7]


# ------------------------------------------------------------ issue #20: bounded inputs, one line per case
LAUGHS = 'a: &a ["lol","lol"]\n' + ''.join(
    f'{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n' for i in range(20)
)


def _one_line(rc, err, code, *words):
    assert rc == code and 'Traceback' not in err, (rc, err[-2000:])
    lines = [l for l in err.splitlines() if l.startswith('facesynth: error:')]
    assert len(lines) == 1 and all(w in lines[0] for w in words), err[-2000:]
    assert len(lines[0]) < 600, 'the message quotes too much'
    return lines[0]


def test_a_billion_laughs_config_is_refused_quickly_with_one_short_line(demo_raw, tmp_path, capsys):
    (tmp_path / 'laughs.yaml').write_text(LAUGHS)
    rc, err = _main(capsys, 'plan', '--config', tmp_path / 'laughs.yaml', '--raw_root', demo_raw,
                    '--out_dir', tmp_path / 'o')
    _one_line(rc, err, 2, 'more than 16 YAML alias')
    assert not (tmp_path / 'o').exists()


def test_a_prompts_file_with_any_alias_or_in_latin1_is_refused(demo_raw, tmp_path, capsys):
    p = tmp_path / 'bank.yaml'
    p.write_text(LAUGHS)
    rc, err = _main(capsys, 'run', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST,
                    '--target_total', 140, '--prompts_file', p)
    _one_line(rc, err, 2, 'prompts_file', 'alias')
    p.write_bytes('prompts:\n  happy: [a fr\xf6hlich face]\n'.encode('latin-1'))
    rc, err = _main(capsys, 'run', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST,
                    '--target_total', 140, '--prompts_file', p)
    _one_line(rc, err, 2, str(p), 'not UTF-8')


@pytest.mark.parametrize('kind', ['dev_zero', 'fifo', 'folder'])
def test_a_config_that_is_not_a_regular_file_says_so(kind, tmp_path, capsys):
    path = {'dev_zero': Path('/dev/zero'), 'fifo': tmp_path / 'fifo', 'folder': tmp_path}[kind]
    if kind == 'fifo': os.mkfifo(path)
    rc, err = _main(capsys, 'plan', '--config', path, '--raw_root', tmp_path, '--out_dir', tmp_path / 'o')
    line = _one_line(rc, err, 2, 'not a regular file')
    assert 'not found' not in line


def test_workers_beyond_the_cpu_count_are_capped_and_said(demo_raw, tmp_path, capsys, caplog):
    rc, err = _main(capsys, 'plan', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST,
                    '--target_total', 140, '--workers', 100000)
    assert rc == 0 and 'Traceback' not in err, err[-2000:]
    assert f'--workers 100000 is more than the {len(os.sched_getaffinity(0))} CPU core(s) here' in caplog.text


@pytest.mark.parametrize('kind', ['dangling', 'loop', 'long_name', 'not_utf8_out', 'not_utf8_raw'])
def test_bad_out_dir_paths_get_one_line(kind, demo_raw, tmp_path, capsys):
    out, raw = tmp_path / 'o', demo_raw
    if kind == 'dangling': out.symlink_to(tmp_path / 'nowhere')
    if kind == 'loop': out.symlink_to(out)
    if kind == 'long_name': out = tmp_path / ('x' * 300) / 'o'
    if kind == 'not_utf8_out': out = Path(os.fsdecode(bytes(tmp_path / 'o')) + os.fsdecode(b'\xff'))
    if kind == 'not_utf8_raw': raw = Path(os.fsdecode(bytes(demo_raw)) + os.fsdecode(b'\xff'))
    rc, err = _main(capsys, 'plan', '--raw_root', raw, '--out_dir', out, *FAST, '--target_total', 140)
    words = {'dangling': ('does not exist',), 'loop': ('loop',), 'long_name': ('too long', '--out_dir'),
             'not_utf8_out': ('--out_dir', 'UTF-8'), 'not_utf8_raw': ('--raw_root', 'UTF-8')}[kind]
    _one_line(rc, err, 2, *words)


def test_a_mirror_root_that_is_a_file_is_refused_before_anything_is_written(demo_raw, tmp_path, capsys):
    (tmp_path / 'm').write_text('a file')
    rc, err = _main(capsys, 'run', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST,
                    '--target_total', 140, '--mirror_root', tmp_path / 'm')
    _one_line(rc, err, 2, 'mirror_root', 'is a file')
    assert not (tmp_path / 'o' / 'status.json').exists()


def test_out_dir_dot_with_restart_or_demo_is_one_line(small_run, tmp_path, capsys, monkeypatch):
    cfg, _ = small_run
    out = tmp_path / 'run'
    import shutil
    shutil.copytree(cfg.out_dir, out)
    monkeypatch.chdir(out)
    rc, err = _main(capsys, 'run', '--raw_root', cfg.raw_root, '--out_dir', '.', '--restart', *FAST)
    _one_line(rc, err, 2, 'current folder')
    rc, err = _main(capsys, 'demo', '--out_dir', '.')
    _one_line(rc, err, 2)
    rc, err = _main(capsys, 'demo', '--out_dir', '.', '--restart')
    _one_line(rc, err, 2)
    assert (out / 'status.json').is_file() and not (out / 'demo_raw').exists()


@pytest.mark.parametrize('lookalike', ['h\u0430ppy', '\uff48\uff41\uff50\uff50\uff59'])
def test_look_alike_label_folders_are_refused_unless_mapped(lookalike, tmp_path, capsys):
    raw = make_demo_raw_root(tmp_path / 'raw')
    (raw / 'sad').rename(raw / lookalike)
    rc, err = _main(capsys, 'plan', '--raw_root', raw, '--out_dir', tmp_path / 'o', *FAST, '--target_total', 140)
    _one_line(rc, err, 2, 'look alike', '--label_map')
    rc, err = _main(capsys, 'plan', '--raw_root', raw, '--out_dir', tmp_path / 'o2', *FAST, '--target_total', 140,
                    '--label_map', json.dumps({lookalike: 'happy'}))
    assert rc == 0, err[-2000:]


def test_the_lock_message_names_restart_and_the_lock_file(demo_raw, tmp_path, capsys):
    import socket
    rc, _ = _main(capsys, 'plan', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST, '--target_total', 140)
    assert rc == 0
    lock = tmp_path / 'o' / 'run.lock'
    lock.write_text(json.dumps({'pid': os.getppid(), 'host': socket.gethostname()}))
    rc, err = _main(capsys, 'plan', '--raw_root', demo_raw, '--out_dir', tmp_path / 'o', *FAST, '--target_total', 140)
    _one_line(rc, err, 2, '--restart', f'delete {lock}')
