"""Curate, export and integrity checks end to end, on real 48x48 faces in FER layout.

`FER` (conftest) is the team's FER2013 sample when present, else real faces from scikit-image in the same
layout: every test runs from the project alone. The originals table is built here in the contract's shape
(the test stands in for ingest, so it runs on its own); the synthetic images are 224x224 L PNGs written
under out_dir/synthetic, with synthetic_meta.csv and a journal, as synth writes them.
"""
import hashlib, json, os, shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest
import imagehash
from PIL import Image

from facesynth_nb.config import RunConfig, SPLITS, CheckFailed, InputError
from facesynth_nb.io import Journal, sha256_file, tree_hash
from facesynth_nb.hashindex import near_duplicate_groups
from facesynth_nb.curate import curate, cross_split_groups, label_conflicts
from facesynth_nb.plan import cap_allowance
from facesynth_nb.export import export_run, export_curated, mirror_run, write_manifests, RunTables
from facesynth_nb.check import check_outputs, assert_outputs_ok, read_manifests
from facesynth_nb.ingest import scan_raw_root
from facesynth_nb.plan import plan_needs
from facesynth_nb.prompts import load_prompt_bank, prompts_version_hash
from facesynth_nb.generators import get_generator
from facesynth_nb.loop import synthesize, load_decisions
from facesynth_nb.curate import split_counts
from conftest import FER
LABELS = ('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise')


def scan(raw:Path, cfg:RunConfig)->pd.DataFrame:
    "The originals table of `raw` in the contract's shape (folders or split folders)."
    rows = []
    for p in sorted(q for q in raw.rglob('*') if q.is_file()):
        rel = p.relative_to(raw)
        split, label = (rel.parts[0], rel.parts[1]) if rel.parts[0] in SPLITS else ('', rel.parts[0])
        with Image.open(p) as im:
            g = im.convert('L'); px = np.asarray(g)
            rows.append(dict(orig_id=rel.as_posix(), file_path=str(p), label=label, split=split, width=im.width,
                             height=im.height, mode=im.mode, bytes=p.stat().st_size,
                             sha1=hashlib.sha1(px.tobytes() + bytes(str(im.size), 'ascii')).hexdigest(),
                             phash=str(imagehash.phash(g, hash_size=cfg.phash_size)),
                             gray_mean=float(px.mean()), gray_std=float(px.std())))
    df = pd.DataFrame(rows).sort_values('orig_id', ignore_index=True)
    df['dup_group'] = df.groupby('sha1').orig_id.transform('min')
    df['near_group'] = near_duplicate_groups(df.orig_id.tolist(), df.phash.tolist(), cfg.hash_dist_max, cfg.phash_size**2)
    df['label_conflict'] = df.groupby('near_group').label.transform('nunique') > 1
    return df


def make_synthetic(out:Path, counts:dict, seed:int=0, size:int=224)->pd.DataFrame:
    "Accepted synthetic units as synth leaves them: smooth random 224x224 L PNGs, their table and journal."
    rng, rows = np.random.default_rng(seed), []
    for label, n in sorted(counts.items()):
        for i in range(n):
            uid = f'{label}-{i:06d}'; rel = f'synthetic/{label}/{uid}.png'
            im = Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).resize((size, size), Image.BICUBIC)
            (out/rel).parent.mkdir(parents=True, exist_ok=True); im.save(out/rel)
            rows.append(dict(unit_id=uid, label=label, index=i, path=rel, phash=str(imagehash.phash(im, hash_size=8)),
                             blur_var=100.0, face_count=1, seed=i, prompt=f'a {label} face', sha256=sha256_file(out/rel)))
    syn = pd.DataFrame(rows)
    syn.to_csv(out/'synthetic_meta.csv', index=False)
    Journal(out/'journal.jsonl').append(journal_for(syn))
    return syn


def journal_for(syn:pd.DataFrame)->list:
    "Journal records: every accepted unit plus one blur reject per label."
    acc = [dict(unit_id=r.unit_id, label=r.label, index=r.index, status='accepted', reason='', path=r.path,
                sha256=r.sha256) for r in syn.itertuples()]
    rej = [dict(unit_id=f'{l}-rej', label=l, index=10**6, status='rejected', reason='blur') for l in sorted(set(syn.label))]
    return acc + rej


def build_raw(root:Path, per_label:int=14, presets:bool=False)->Path:
    """A raw_root from the FER sample with planted duplicates:
    happy's first image also under sad (a label conflict), angry's first image twice in angry (a pixel-identical pair),
    and with presets, fear's first image in train and in test (a group across the user's splits)."""
    raw = root/'raw'
    for label in LABELS:
        for k, p in enumerate(sorted((FER/label).glob('*.jpg'))[:per_label]):
            split = ('train' if k % 5 else 'test') if presets else ''
            d = raw/split/label; d.mkdir(parents=True, exist_ok=True); shutil.copy(p, d/p.name)
    first = lambda l: sorted((FER/l).glob('*.jpg'))[0]
    tr = 'train' if presets else ''
    shutil.copy(first('happy'), raw/tr/'sad'/'dup_of_happy.jpg')
    shutil.copy(first('angry'), raw/tr/'angry'/'same_again.jpg')
    if presets: shutil.copy(first('fear'), raw/'test'/'fear'/'leaked.jpg'); shutil.copy(first('fear'), raw/'train'/'fear'/first('fear').name)
    return raw


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "One exported run over a folders-layout raw_root (no presets); angry gets more synthetic than the cap allows."
    root = tmp_path_factory.mktemp('run'); raw = build_raw(root); out = root/'out'
    cfg = RunConfig(raw_root=str(raw), out_dir=str(out), seed=11, model_id='builtin:tiny', progress=False, target_total=420)
    h0 = tree_hash(raw)
    orig = scan(raw, cfg)
    syn = make_synthetic(out, {l: (40 if l == 'angry' else 6) for l in LABELS})
    cur = curate(orig, syn, None, cfg)
    status = export_run(RunTables(cur, orig, syn, None, journal_for(syn), model_info={'model_id': 'builtin:tiny'}), cfg)
    return dict(cfg=cfg, raw=raw, out=out, orig=orig, syn=syn, cur=cur, status=status, raw_hash=h0)


def test_groups_stay_in_one_split_and_conflicts_reported(run):
    orig, cur = run['orig'], run['cur']
    happy_first = orig[orig.orig_id == 'sad/dup_of_happy.jpg'].near_group.iloc[0]
    members = orig[orig.near_group == happy_first]
    assert set(members.label) == {'happy', 'sad'} and len(members) == 2      # the planted conflict is one group
    o = cur[cur.source == 'original']
    assert (o.groupby('group_id').split.nunique() == 1).all()                  # no group crosses splits
    assert len(cross_split_groups(cur)) == 0
    conf = label_conflicts(cur)
    assert happy_first in set(conf.group_id)
    st = json.loads((run['out']/'status.json').read_text())
    assert st['leakage']['label_conflict_groups'] == len(conf) >= 1
    assert happy_first in {g['group_id'] for g in st['leakage']['label_conflict_examples']}
    ident = orig[orig.orig_id.isin([f'angry/{sorted((FER/"angry").glob("*.jpg"))[0].name}', 'angry/same_again.jpg'])]
    assert ident.dup_group.nunique() == 1 and o[o.item_id.isin(ident.orig_id)].split.nunique() == 1


def test_cap_holds_for_every_class_and_excess_is_recorded(run):
    cur, cfg = run['cur'], run['cfg']
    man = read_manifests(run['out'])
    tr = man[man.split == 'train'].groupby(['label', 'source']).size().unstack(fill_value=0)
    for label, r in tr.iterrows():
        assert r.synthetic / (r.synthetic + r.original) <= cfg.synthetic_cap, label
    drop = cur[cur.dropped == 'over_cap']
    assert set(drop.label) == {'angry'} and len(drop) == 40 - cap_allowance(int(tr.loc['angry', 'original']), cfg.synthetic_cap)
    kept_idx = run['syn'].set_index('unit_id').loc[cur[(cur.label == 'angry') & (cur.source == 'synthetic') & (cur.dropped == '')].item_id, 'index']
    assert kept_idx.max() < run['syn'].set_index('unit_id').loc[drop.item_id, 'index'].min()   # highest indices dropped
    assert (drop.split == '').all()
    st = json.loads((run['out']/'status.json').read_text())
    assert st['over_cap_dropped'] == {'count': len(drop), 'by_class': {'angry': len(drop)}}
    on_record = pd.read_csv(run['out']/'curated.csv', keep_default_na=False)
    assert set(on_record[on_record.dropped == 'over_cap'].item_id) == set(drop.item_id)
    assert not man[man.split.isin(['val', 'test'])].source.eq('synthetic').any()


def test_status_totals_equal_manifests_equal_files(run):
    out = run['out']; st = json.loads((out/'status.json').read_text())
    man = read_manifests(out)
    files = {p.relative_to(out).as_posix() for p in (out/'curated').rglob('*') if p.is_file()}
    files -= {f'curated/{s}/metadata.csv' for s in SPLITS}         # Hugging Face's, one per split
    assert set(man.path) == files and len(man) == len(files) == st['total_images']
    assert st['total_synthetic'] == int((man.source == 'synthetic').sum())
    assert st['total_original'] == len(run['orig'])
    assert {s: int((man.split == s).sum()) for s in SPLITS} == st['split_counts']
    for key in ('total_images', 'total_original', 'total_synthetic', 'synthetic_fraction', 'per_class', 'splits_fraction',
                'image_size', 'seed', 'generation_model_id', 'prompts_version_hash', 'quality_thresholds', 'created_timestamp'):
        assert key in st, key
    assert st['synthetic_generation']['rejects_by_class'] == {l: {'blur': 1} for l in LABELS}
    assert all(r['ok'] for r in assert_outputs_ok(out)), 'every integrity check passes'
    for f in ('train.csv', 'val.csv', 'test.csv', 'label_map.json', 'env_report.json'): assert (out/f).exists(), f


def test_curated_files_are_224_L_and_raw_root_untouched(run):
    for p in list((run['out']/'curated').rglob('*.png'))[::7]:
        with Image.open(p) as im: assert (im.format, im.size, im.mode) == ('PNG', (224, 224), 'L'), p
    assert tree_hash(run['raw']) == run['raw_hash']


def test_hf_imagefolder_loads_with_splits_labels_counts(run, tmp_path, monkeypatch):
    monkeypatch.setenv('HF_DATASETS_OFFLINE', '1'); monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    import datasets
    ds = datasets.load_dataset('imagefolder', data_dir=str(run['out']/'curated'), cache_dir=str(tmp_path/'hf'))
    assert set(ds) == {'train', 'validation', 'test'}          # imagefolder reads the `val` folder as `validation`
    man = read_manifests(run['out']); lm = json.loads((run['out']/'label_map.json').read_text())
    assert set(ds['train'].column_names) == {'image', 'label', 'label_index', 'source', 'group_id'}  # metadata.csv
    for hf, s in (('train', 'train'), ('validation', 'val'), ('test', 'test')):
        got = pd.DataFrame({c: ds[hf][c] for c in ('label', 'label_index', 'source')})
        want = man[man.split == s]
        assert got.value_counts().sort_index().to_dict() == want[['label', 'label_index', 'source']].value_counts().sort_index().to_dict(), hf
        assert (got.label.map(lm) == got.label_index).all()
    assert set(ds['train']['source']) == {'original', 'synthetic'}   # original vs synthetic survives the loader
    im = ds['test'][0]['image']; assert (im.size, im.mode) == ((224, 224), 'L')


def test_torchvision_imagefolder_layout(run):
    "torchvision.datasets.ImageFolder(root=curated/<split>) numbers the class folders (sorted) as label_map.json does."
    lm = json.loads((run['out']/'label_map.json').read_text())
    for s in SPLITS:
        root = run['out']/'curated'/s
        entries = list(root.iterdir())
        assert {e.name for e in entries if not e.is_dir()} == {'metadata.csv'}, f'{s}: class folders and metadata.csv'
        classes = sorted(e.name for e in entries if e.is_dir())   # torchvision's find_classes
        assert {c: i for i, c in enumerate(classes)} == lm, f'{s}: ImageFolder would number classes differently'
        for c in classes: assert all(f.is_file() and f.suffix == '.png' for f in (root/c).iterdir()), (s, c)


class _ImageFolder:
    "What torchvision's ImageFolder does with a folder (find_classes, make_dataset), for machines without torchvision."
    def __init__(self, root, allow_empty=False):
        self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = [(str(p), i) for c, i in self.class_to_idx.items() for p in sorted(Path(root, c).glob('*.png'))]
        empty = set(self.classes) - {self.classes[i] for _, i in self.samples}
        if empty and not allow_empty: raise FileNotFoundError(f'Found no valid file for the classes {sorted(empty)}')


def _readme_examples()->list:
    "The python code blocks of the README's loading section (nbs/index.ipynb)."
    nb = json.loads((Path(__file__).parents[1]/'nbs'/'index.ipynb').read_text())
    md = next(''.join(c['source']) for c in nb['cells'] if '## What comes out, and how to load it' in ''.join(c['source']))
    return [b.split('```', 1)[0] for b in md.split('```python\n')[1:]]


def test_readme_loading_examples_run(run, tmp_path, monkeypatch):
    "The README's pandas, Hugging Face and torchvision examples run on a real out_dir, with an empty label folder."
    import sys, types
    out = tmp_path/'out'; shutil.copytree(run['out'], out)
    test_sad = out/'curated'/'test'/'sad'
    for p in test_sad.glob('*.png'): p.unlink()             # a label without an image in a split: its folder stays
    m = pd.read_csv(out/'test.csv'); m[m.label != 'sad'].to_csv(out/'test.csv', index=False)
    md = pd.read_csv(test_sad.parent/'metadata.csv'); md[md.label != 'sad'].to_csv(test_sad.parent/'metadata.csv', index=False)
    monkeypatch.setenv('HF_DATASETS_OFFLINE', '1'); monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('HF_DATASETS_CACHE', str(tmp_path/'hf'))
    try: import torchvision  # noqa: F401
    except ImportError:
        tv = types.ModuleType('torchvision'); tv.datasets = types.ModuleType('torchvision.datasets')
        tv.datasets.ImageFolder = _ImageFolder
        monkeypatch.setitem(sys.modules, 'torchvision', tv); monkeypatch.setitem(sys.modules, 'torchvision.datasets', tv.datasets)
    blocks = _readme_examples()
    assert len(blocks) == 3 and "OUT = 'demo_out'" in blocks[0]
    ns = {}
    exec(blocks[0].replace("OUT = 'demo_out'", f"OUT = {str(out)!r}"), ns)
    assert ns['label_map'] == json.loads((out/'label_map.json').read_text()) and list(ns['label_map']) == sorted(ns['label_map'])
    assert len(ns['real_train']) == int((ns['train'].source == 'original').sum()) > 0
    assert ns['train'].file.map(os.path.isfile).all()
    assert dict(zip(ns['train'].label, ns['train'].fer_index)).get('neutral', 6) == 6
    exec(blocks[1], ns)
    ds, lm = ns['ds'], ns['label_map']
    assert ds['train'].features['label'].names == list(lm)
    assert [lm[n] for n in ds['train'].features['label'].int2str(ds['train']['label'])] == ds['train']['label_index']
    assert set(ns['real']['source']) == {'original'} and len(ns['real']) == len(ns['real_train'])
    exec(blocks[2], ns)
    assert ns['test_set'].class_to_idx == lm and len(ns['test_set'].samples) == len(ds['test'])
    with pytest.raises(FileNotFoundError): sys.modules['torchvision'].datasets.ImageFolder(str(test_sad.parent))


def test_rerun_is_idempotent_and_removes_only_what_a_run_wrote(run):
    "A rerun rewrites nothing; it removes a stale file the manifests say an export wrote, and nothing else."
    cfg, out = run['cfg'], run['out']
    before = {p: p.stat().st_ino for p in (out/'curated').rglob('*.png')}
    stale = out/'curated'/'train'/'happy'/'from_an_older_run.png'; shutil.copy(next(iter(before)), stale)
    m = pd.read_csv(out/'train.csv', keep_default_na=False, dtype=str)
    old = pd.concat([m, m.iloc[[0]].assign(path=stale.relative_to(out).as_posix(), sha256=sha256_file(stale))])
    old.to_csv(out/'train.csv', index=False)                              # as an earlier export recorded it
    mine = out/'curated'/'train'/'happy'/'my_notes.txt'; mine.write_text('mine')
    changed = out/'curated'/'train'/'sad'/'edited_by_me.png'; shutil.copy(next(iter(before)), changed)
    old = pd.concat([old, m.iloc[[0]].assign(path=changed.relative_to(out).as_posix(), sha256='0' * 64)])
    old.to_csv(out/'train.csv', index=False)                              # listed, but not what the export wrote
    r = export_curated(run['cur'], cfg)
    assert (r['skipped'], r['removed'], r['converted'], r['linked']) == (len(before), 1, 0, 0)
    assert r['left_alone'] == ['train/happy/my_notes.txt', 'train/sad/edited_by_me.png']
    assert not stale.exists() and mine.exists() and changed.exists()
    assert {p: p.stat().st_ino for p in (out/'curated').rglob('*.png') if p != changed} == before   # nothing rewritten
    assert tree_hash(run['raw']) == run['raw_hash']
    mine.unlink(); changed.unlink(); write_manifests(run['cur'], cfg)       # the module's run, as it was
    assert all(r['ok'] for r in assert_outputs_ok(out))


def test_export_is_deterministic(run, tmp_path):
    cfg2 = run['cfg'].updated(out_dir=str(tmp_path/'out2'))
    syn2 = make_synthetic(tmp_path/'out2', {l: (40 if l == 'angry' else 6) for l in LABELS})
    cur2 = curate(run['orig'], syn2, None, cfg2)
    pd.testing.assert_frame_equal(cur2.drop(columns='file_path'), run['cur'].drop(columns='file_path'))
    r = export_curated(cur2, cfg2, processes=True)                      # worker processes here, threads in the fixture
    assert r['converted'] == len(run['orig']) and r['linked'] == int((cur2.source.eq('synthetic') & cur2.dropped.eq('')).sum())
    st2 = export_run(RunTables(cur2, run['orig'], syn2, None, journal_for(syn2), model_info={'model_id': 'builtin:tiny'}),
                     cfg2)
    a, b = json.loads((run['out']/'status.json').read_text()), json.loads((tmp_path/'out2'/'status.json').read_text())
    assert {k for k in a if a[k] != b[k]} == {'created_timestamp'}
    for p in sorted((run['out']/'curated').rglob('*.png'))[::11]:
        assert p.read_bytes() == (tmp_path/'out2'/p.relative_to(run['out'])).read_bytes(), p


def test_preset_splits_kept_cross_split_groups_reported(tmp_path):
    raw = build_raw(tmp_path, per_label=10, presets=True); h0 = tree_hash(raw)
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp_path/'out'), seed=5, progress=False)
    orig = scan(raw, cfg)
    assert set(orig.split) == {'train', 'test'}
    cur = curate(orig, None, None, cfg)
    o = cur[cur.source == 'original'].set_index('item_id')
    assert (o.loc[orig.orig_id[orig.split == 'test'], 'split'] == 'test').all()        # the user's test set is untouched
    assert set(o.split) == {'train', 'val', 'test'}                                      # val carved from train
    x = cross_split_groups(cur)
    leaked = orig[orig.orig_id == 'test/fear/leaked.jpg'].near_group.iloc[0]
    assert leaked in set(x.group_id)
    export_run(RunTables(cur, orig), cfg)
    res = {r['check']: r for r in assert_outputs_ok(cfg.out)}          # reported, not a failure
    cs = res['original_cross_split']
    assert 'raw_root\'s own splits' in cs['detail'] and any('leaked' in f for f in cs['files'])
    re = curate(orig, None, None, cfg, regroup_presets=True)
    assert len(cross_split_groups(re)) == 0
    assert tree_hash(raw) == h0


def test_raw_files_are_copied_unless_link_raw_and_links_never_change_them(tmp_path):
    raw = tmp_path/'raw'
    for label in ('happy', 'sad'):
        for p in sorted((FER/label).glob('*.jpg'))[:8]:
            (raw/label).mkdir(parents=True, exist_ok=True)
            with Image.open(p) as im: im.convert('L').resize((224, 224), Image.LANCZOS).save(raw/label/(p.stem + '.png'))
    Image.new('RGB', (224, 224)).save(raw/'sad'/'rgb.png')                              # right size, wrong mode: converted
    h0 = tree_hash(raw)
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp_path/'out'), seed=2, progress=False)
    orig = scan(raw, cfg); cur = curate(orig, None, None, cfg)
    r0 = export_curated(cur, cfg)                                                       # by default: copies
    assert (r0['linked'], r0['copied'], r0['converted']) == (0, 16, 1)
    assert all(os.stat(f).st_nlink == 1 for f in cur.file_path)
    shutil.rmtree(cfg.out/'curated')
    r = export_curated(cur, cfg.updated(link_raw=True))                                 # the opt-in
    assert (r['linked'], r['converted']) == (16, 1)
    kept = cur[cur.dropped == '']
    for f, d in zip(kept.file_path, 'curated/' + kept.split + '/' + kept.label + '/' + kept.name):
        assert os.path.samefile(f, cfg.out/d) == (not f.endswith('rgb.png'))
    r2 = export_curated(cur, cfg.updated(export_mode='copy'))                           # links replaced by copies, not written through
    assert (r2['copied'], r2['skipped']) == (16, 1)
    assert not any(os.path.samefile(f, cfg.out/d) for f, d in zip(kept.file_path, 'curated/' + kept.split + '/' + kept.label + '/' + kept.name))
    assert all(os.stat(f).st_nlink == 1 for f in kept.file_path)
    assert tree_hash(raw) == h0


def test_mirror_and_refusals(run, tmp_path):
    cfg = run['cfg']
    with pytest.raises(InputError, match='inside raw_root'): mirror_run(cfg.updated(mirror_root=str(run['raw']/'copy')))
    assert not (run['raw']/'copy').exists()
    with pytest.raises(InputError, match='raw_root'): export_curated(run['cur'], cfg.updated(out_dir=str(run['raw'])))
    r = mirror_run(cfg.updated(mirror_root=str(tmp_path/'mirror')))
    n = len(read_manifests(run['out']))
    assert r['files'] == n == len(list((tmp_path/'mirror').rglob('*.png')))
    assert json.loads((tmp_path/'mirror'/'status.json').read_text())['total_images'] == n
    assert tree_hash(run['raw']) == run['raw_hash']


def test_a_broken_output_fails_loudly_naming_check_and_file(run, tmp_path):
    bad = tmp_path/'bad'; shutil.copytree(run['out'], bad)
    victim = sorted((bad/'curated'/'val').rglob('*.png'))[0]; victim.unlink()
    with pytest.raises(CheckFailed) as e: assert_outputs_ok(bad)
    assert e.value.exit_code == 1
    assert 'manifests_match_files' in str(e.value) and victim.relative_to(bad).as_posix() in str(e.value)
    res = {r['check']: r['ok'] for r in check_outputs(bad)}
    assert res['manifests_match_files'] is False and res['image_format'] is True


def test_with_the_real_ingest_and_plan(tmp_path):
    "Cross-stage: ingest's originals table and the plan (given curate's exact split counts) feed curate and export."
    raw = build_raw(tmp_path, per_label=12); h0 = tree_hash(raw)
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp_path/'out'), target_total=140, seed=4, progress=False)
    orig = scan_raw_root(cfg)
    plan = plan_needs(orig, cfg, split_counts=split_counts(orig, cfg))
    syn = make_synthetic(cfg.out, {l: int(n) + 3 for l, n in plan.planned.items()})      # 3 more than planned per label
    cur = curate(orig, syn, plan, cfg)
    assert (cur[cur.dropped == 'over_cap'].groupby('label').size() <= 3).all()
    train = cur[(cur.split == 'train') & (cur.dropped == '')].groupby(['label', 'source']).size().unstack(fill_value=0)
    assert (train.original == plan.original_train.reindex(train.index)).all()             # the plan saw the real split
    export_run(RunTables(cur, orig, syn, plan, journal_for(syn)), cfg)
    assert all(r['ok'] for r in assert_outputs_ok(cfg.out))
    assert 'sad/dup_of_happy.jpg' in set(orig.orig_id)
    g = orig.set_index('orig_id').near_group['sad/dup_of_happy.jpg']
    assert cur[cur.group_id == g].split.nunique() == 1 and g in set(label_conflicts(cur).group_id)
    assert tree_hash(raw) == h0


def test_fer_layout_run_with_builtin_tiny(tmp_path, monkeypatch):
    """The issue's acceptance run: FER-layout faces through the real stages (ingest, plan, synth with builtin:tiny,
    curate, export), then every integrity check, the cap per class, and HF imagefolder with matching counts."""
    raw = tmp_path/'raw'; shutil.copytree(FER, raw); h0 = tree_hash(raw)
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp_path/'out'), model_id='builtin:tiny', target_total=238, progress=False,
                    num_inference_steps=2, gen_size=64, face_policy='off', blur_var_min=0.0, workers=1)  # noise images: no face/blur gate
    orig = scan_raw_root(cfg)
    plan = plan_needs(orig, cfg, split_counts=split_counts(orig, cfg))
    bank = load_prompt_bank(cfg); gen = get_generator(cfg)
    syn = synthesize(orig, plan, bank, cfg, generator=gen)
    assert len(syn) == int(plan.planned.sum()) > 0
    cur = curate(orig, syn, plan, cfg)
    st = export_run(RunTables(cur, orig, syn, plan, load_decisions(cfg.out), model_info=gen.describe(),
                              prompts_version_hash=prompts_version_hash(bank)), cfg)
    assert all(r['ok'] for r in assert_outputs_ok(cfg.out))
    man = read_manifests(cfg.out)
    assert man.source.eq('synthetic').sum() == len(syn) and not man[man.split != 'train'].source.eq('synthetic').any()
    tr = man[man.split == 'train'].groupby(['label', 'source']).size().unstack(fill_value=0)
    assert (tr.synthetic / (tr.synthetic + tr.original) <= cfg.synthetic_cap).all() and len(tr) == 7
    o = cur[cur.source == 'original']; assert (o.groupby('group_id').split.nunique() == 1).all()
    files = {p.relative_to(cfg.out).as_posix() for p in (cfg.out/'curated').rglob('*.png')}
    assert st['total_images'] == len(man) == len(files) and set(man.path) == files
    assert st['model_is_builtin'] and 'not faces' in st['model_note'] and st['prompts_version_hash'] == prompts_version_hash(bank)
    assert st['export']['linked'] == len(syn)                          # synth's PNGs are already 224x224 L: hard-linked
    monkeypatch.setenv('HF_DATASETS_OFFLINE', '1'); monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    import datasets
    ds = datasets.load_dataset('imagefolder', data_dir=str(cfg.out/'curated'), cache_dir=str(tmp_path/'hf'))
    assert {k: len(v) for k, v in ds.items()} == {'train': int((man.split == 'train').sum()),
                                                  'validation': int((man.split == 'val').sum()), 'test': int((man.split == 'test').sum())}
    assert tree_hash(raw) == h0
