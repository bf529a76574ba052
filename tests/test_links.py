"""Links and damaged files inside out_dir (issue #20): out_dir is never a door to the user's other folders.

A symbolic link planted at any folder (or file) a run writes, for every command, is refused with one line
before anything is written, read or deleted, and the folder it points to stays byte-identical. A
property-style test plants links and damaged files at seeded-random places of a finished out_dir and
shows that every command either refuses with one line or finishes, never with a traceback, and never
touching anything outside out_dir."""
import os, random, shutil
from pathlib import Path
import pytest
from facesynth_nb import cli
from facesynth_nb.config import save_config
from facesynth_nb.io import tree_hash

# every folder (and a few files) a run writes, cleans or caches into
PLACES = ('originals_csv', 'curated', 'curated/train/happy', 'cache', 'plots', 'synthetic', 'synthetic/happy',
          'rejects', 'journal.jsonl', 'status.json', 'train.csv')
MIRROR_PLACES = ('train/happy', 'train')
COMMANDS = ('run', 'resume', 'plan', 'report', 'check', 'evaluate')


def _main(capsys, *args):
    "Run the CLI in-process: an exception escaping it fails the test (that is a traceback for the user)."
    rc = cli.main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _errors(err:str)->list:
    return [l for l in err.splitlines() if l.startswith('facesynth: error:')]


@pytest.fixture
def victim(tmp_path):
    "The user's other folder: a few files a careless run would delete, overwrite or write beside."
    v = tmp_path/'victim'; (v/'sub').mkdir(parents=True)
    (v/'keep.png').write_bytes(b'\x89PNG not really'); (v/'sub'/'x.png').write_bytes(b'mine')
    (v/'draft.tmp').write_bytes(b'half'); (v/'.keep.png.1.tmp').write_bytes(b'ours?')
    return v


@pytest.fixture
def copy(small_run, tmp_path):
    "A private copy of the session's run and mirror, with a config file pointing at them."
    cfg, _ = small_run
    out, mirror = tmp_path/'out', tmp_path/'mirror'
    shutil.copytree(cfg.out_dir, out, symlinks=True); shutil.copytree(cfg.mirror_root, mirror, symlinks=True)
    c = cfg.updated(out_dir=str(out), mirror_root=str(mirror))
    return c, save_config(c, tmp_path/'run.yaml')


def _plant(where:Path, target:Path)->None:
    "Replace `where` (a folder, a file or nothing) by a symbolic link to `target`."
    if where.is_dir() and not where.is_symlink(): shutil.rmtree(where)
    elif os.path.lexists(where): where.unlink()
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(target/'keep.png' if where.suffix in ('.jsonl', '.json', '.csv') else target)


def _args(command:str, cfg, conf:Path)->tuple:
    if command in ('run', 'resume'): return ('run', '--config', conf)
    if command == 'plan': return ('plan', '--config', conf)
    return (command, cfg.out_dir)


def _refused_with_one_line(rc, err, link:Path):
    assert rc == 2, (rc, err[-2000:])
    errs = _errors(err)
    assert len(errs) == 1 and 'symbolic link' in errs[0] and str(link) in errs[0], err[-2000:]


@pytest.mark.parametrize('command', COMMANDS)
def test_a_link_at_any_folder_a_run_writes_is_refused_and_its_target_untouched(command, copy, victim, capsys):
    cfg, conf = copy
    if command == 'resume':     # an interrupted run: its last decision is not journaled yet
        j = cfg.out/'journal.jsonl'; lines = j.read_bytes().splitlines(keepends=True); j.write_bytes(b''.join(lines[:-1]))
        (cfg.out/'status.json').unlink()
    places = [cfg.out/p for p in PLACES]
    if command in ('run', 'resume', 'plan'): places += [Path(cfg.mirror_root)/p for p in MIRROR_PLACES]
    h = tree_hash(victim)
    for where in places:
        saved = where.with_name(where.name + '.saved')
        if os.path.lexists(where): where.rename(saved)
        _plant(where, victim)
        rc, _, err = _main(capsys, *_args(command, cfg, conf))
        _refused_with_one_line(rc, err, where)
        assert tree_hash(victim) == h, f'{command} changed the link target of {where}'
        where.unlink()
        if os.path.lexists(saved): saved.rename(where)


def test_demo_refuses_a_link_in_its_out_dir_and_keeps_its_faces_inside(tmp_path, victim, capsys):
    out = tmp_path/'demo'; out.mkdir()
    h = tree_hash(victim)
    for name in ('demo_raw', 'cache', 'curated'):
        (out/name).symlink_to(victim)
        rc, _, err = _main(capsys, 'demo', '--out_dir', out)
        _refused_with_one_line(rc, err, out/name)
        (out/name).unlink()
    assert tree_hash(victim) == h


def test_the_demo_raw_folder_lives_inside_out_dir(tmp_path):
    from facesynth_nb.pipeline import _demo_raw
    out = tmp_path/'X'; beside = tmp_path/'X_raw'; beside.mkdir(); (beside/'mine.png').write_bytes(b'user')
    h = tree_hash(beside)
    raw = _demo_raw(out, restart=False)
    assert raw == out/'demo_raw' and len(list(raw.rglob('*.png'))) == 101
    assert tree_hash(beside) == h


# ------------------------------------------------------------------ property-style: random places
def _places(out:Path)->list:
    "Every folder and file under `out`, relative, sorted (a stable order for the seeded choice)."
    return sorted(p.relative_to(out) for p in out.rglob('*') if not p.is_symlink())


def _damage(p:Path, rnd:random.Random)->str:
    "Cut, empty or garble the file `p`; say how."
    data = p.read_bytes(); how = rnd.choice(('cut', 'empty', 'garble'))
    p.write_bytes(data[:len(data) // 2] if how == 'cut' else b'' if how == 'empty' else b'\xff\xfe{[' + data[:50])
    return how


@pytest.mark.parametrize('seed', range(6))
def test_links_and_damage_at_random_places_never_escape_out_dir(seed, copy, victim, tmp_path, capsys):
    cfg, conf = copy
    rnd = random.Random(20 + seed)
    raw_h, victim_h = tree_hash(cfg.raw), tree_hash(victim)
    where = cfg.out/rnd.choice(_places(cfg.out))
    if rnd.random() < 0.5:
        _plant(where, victim); what = 'link'
    else:
        target = where if where.is_file() else rnd.choice([p for p in where.rglob('*') if p.is_file()] or [cfg.out/'status.json'])
        what = _damage(target, rnd)
    command = rnd.choice(('check', 'report', 'plan', 'run'))
    rc, out, err = _main(capsys, *_args(command, cfg, conf))
    assert 'Traceback' not in err, err[-3000:]
    assert rc in (0, 1, 2), (rc, err[-2000:])
    if rc == 2: assert len(_errors(err)) == 1, (what, where, command, err[-2000:])
    if what == 'link': assert rc == 2, (where, command, out[-1000:], err[-1000:])
    assert tree_hash(victim) == victim_h, f'{command} changed the target of a link at {where}'
    assert tree_hash(cfg.raw) == raw_h, f'{command} changed raw_root ({what} at {where})'
