"""The mirror on a real small run: made last from the final files, and it deletes only what it provably wrote."""
import json, shutil
from pathlib import Path
import pandas as pd
import pytest

from facesynth_nb.config import InputError
from facesynth_nb.export import MIRROR_INDEX, check_mirror_root, mirror_run, read_mirror_index, write_manifests
from facesynth_nb.io import atomic_write_json, sha256_file, tree_hash


@pytest.fixture
def run(small_run, tmp_path):
    "A private copy of the session's run (out_dir and mirror); returns its config pointed at the copies."
    cfg, _ = small_run
    shutil.copytree(cfg.out_dir, tmp_path/'out'); shutil.copytree(cfg.mirror_root, tmp_path/'mirror')
    return cfg.updated(out_dir=str(tmp_path/'out'), mirror_root=str(tmp_path/'mirror'))


def test_mirror_status_is_the_runs_byte_for_byte(small_run):
    cfg, res = small_run
    out, mirror = Path(cfg.out_dir), Path(cfg.mirror_root)
    assert (mirror/'status.json').read_bytes() == (out/'status.json').read_bytes()
    st = json.loads((out/'status.json').read_text())
    assert {'integrity', 'demo', 'generation_shortfall', 'mirror'} <= set(st)        # the blocks added late before
    assert st['mirror']['files'] == st['total_images'] == res.status['total_images']
    assert (mirror/'label_map.json').read_bytes() == (out/'label_map.json').read_bytes()
    for s in ('train', 'val', 'test'):
        a, b = pd.read_csv(out/f'{s}.csv', dtype=str), pd.read_csv(mirror/f'{s}.csv', dtype=str)
        assert (('curated/' + b.path).tolist(), b.sha256.tolist()) == (a.path.tolist(), a.sha256.tolist())
        assert all(sha256_file(mirror/p) == h for p, h in zip(b.path, b.sha256))


def test_index_records_every_file_with_its_hash(small_run):
    cfg, _ = small_run
    mirror = Path(cfg.mirror_root)
    ix = read_mirror_index(mirror)
    assert {'train.csv', 'val.csv', 'test.csv', 'label_map.json', 'status.json'} <= set(ix)
    assert all(sha256_file(mirror/p) == h for p, h in ix.items())
    on_disk = {p.relative_to(mirror).as_posix() for p in mirror.rglob('*') if p.is_file()} - {MIRROR_INDEX}
    assert on_disk == set(ix)


def test_planted_index_entries_and_user_files_are_left_alone_and_reported(run, tmp_path):
    mirror = Path(run.mirror_root)
    victim = tmp_path/'victim.txt'; victim.write_text('keep me')
    mine = mirror/'train'/'happy'/'my_notes.txt'; mine.write_text('mine')
    ix = read_mirror_index(mirror)
    edited = sorted(p for p in ix if p.startswith('train/'))[0]
    (mirror/edited).unlink(); (mirror/edited).write_bytes(b'my own edit')     # not through a hard link
    planted = {**ix, '../victim.txt': sha256_file(victim), str(victim): sha256_file(victim), 'train/happy/my_notes.txt': ''}
    atomic_write_json(mirror/MIRROR_INDEX, dict(format=2, files=planted))
    cur = pd.read_csv(Path(run.out_dir)/'curated.csv', keep_default_na=False)
    label = edited.split('/')[1]
    write_manifests(cur[cur.label != label], run)                              # a rerun with one class fewer
    r = mirror_run(run)
    gone = [p for p in ix if p.split('/')[1:2] == [label] and p != edited]
    assert r['removed'] == len(gone) > 0 and not any((mirror/p).exists() for p in gone)
    assert victim.read_text() == 'keep me' and mine.read_text() == 'mine'
    assert (mirror/edited).read_bytes() == b'my own edit'
    assert sorted(r['left_alone']) == sorted(['../victim.txt', str(victim), 'train/happy/my_notes.txt', edited])


def test_an_old_index_without_hashes_proves_nothing(run):
    mirror = Path(run.mirror_root)
    ix = read_mirror_index(mirror)
    (mirror/MIRROR_INDEX).write_text(json.dumps(sorted(ix)))                   # the old format: paths only
    cur = pd.read_csv(Path(run.out_dir)/'curated.csv', keep_default_na=False)
    write_manifests(cur[cur.label != 'angry'], run)
    before = tree_hash(mirror/'train'/'angry')
    r = mirror_run(run)
    assert r['removed'] == 0 and r['left_alone_count'] > 0 and tree_hash(mirror/'train'/'angry') == before


def test_a_foreign_file_where_the_mirror_must_write_is_refused(run):
    mirror = Path(run.mirror_root)
    (mirror/MIRROR_INDEX).unlink()
    p = sorted(read_mirror_index(mirror) or [q.relative_to(mirror).as_posix() for q in (mirror/'val').rglob('*.png')])[0]
    (mirror/p).unlink(); (mirror/p).write_bytes(b'a file of the user')
    with pytest.raises(InputError, match='did not write'): mirror_run(run)
    assert (mirror/p).read_bytes() == b'a file of the user'


@pytest.mark.parametrize('where', ['inside raw_root', 'contains raw_root', 'inside out_dir', 'contains out_dir'])
def test_mirror_root_overlapping_raw_root_or_out_dir_is_refused(small_run, tmp_path, where):
    cfg, _ = small_run
    raw, out = Path(cfg.raw_root), Path(cfg.out_dir)
    m = {'inside raw_root': raw/'m', 'contains raw_root': raw.parent, 'inside out_dir': out/'m',
         'contains out_dir': out.parent}[where]
    bad = cfg.updated(mirror_root=str(m))
    h, ho = tree_hash(raw), tree_hash(out)
    said = 'contains (raw_root|out_dir)' if where == 'contains out_dir' else where   # its folder holds both
    with pytest.raises(InputError, match=said): check_mirror_root(bad)
    with pytest.raises(InputError, match=said): mirror_run(bad)              # what the run's export calls
    assert (tree_hash(raw), tree_hash(out)) == (h, ho) and not (raw/'m').exists() and not (out/'m').exists()
