"""A small, hand-made out_dir for the examples of 60_diagnose and 70_report (not part of the package).

The tests in tests/ run the report on a real pipeline run (tests/conftest.py); these notebooks need a run
whose every branch (a binding cap, a class over target, rejects of each reason) is known in advance.
Its balance comes from `export.balance_summary`, the function export writes status.json with.
"""
import hashlib, math, platform, sys
from pathlib import Path
import numpy as np, pandas as pd
import matplotlib as mpl
from PIL import Image
from facesynth_nb.config import RunConfig, SPLITS, config_hash, config_to_dict
from facesynth_nb.io import Journal, atomic_write, atomic_write_json, save_png_atomic
from facesynth_nb.export import balance_summary

EXAMPLE_ORIGINALS = {'angry': 6, 'happy': 22, 'sad': 14}     # originals per label in the example run
EXAMPLE_REJECTS = {'angry': {2: 'blur', 5: 'near_duplicate'}, 'sad': {1: 'face', 4: 'blur'}}  # unit index -> reason

def _example_config(root:Path, builtin:bool)->RunConfig:
    return RunConfig(raw_root=str(root/'raw'), out_dir=str(root/'out'), target_total=60, face_policy='single',
                     model_id='builtin:tiny' if builtin else 'example/faces-from-lfw', progress=False)

def _example_splits(n:int)->list:
    k = max(1, round(n*0.1))
    return ['train']*(n - 2*k) + ['val']*k + ['test']*k

def _to_224(a:np.ndarray)->Image.Image:
    return Image.fromarray(np.clip(a*255, 0, 255).astype(np.uint8), 'L').resize((224, 224), Image.BICUBIC)

def _noise(seed:int, blurred:bool=False)->Image.Image:
    "Textured noise like an untrained model's output (smooth when `blurred`, to fail the blur gate)."
    rng = np.random.default_rng(seed)
    a = (rng.random((28, 28)) if blurred else rng.random((224, 224))*0.6 + np.kron(rng.random((28, 28)), np.ones((8, 8)))*0.4)
    return _to_224(a)

def _blur_var(img:Image.Image)->float:
    import cv2
    return float(cv2.Laplacian(np.asarray(img.convert('L')), cv2.CV_64F).var())

def _phash(img:Image.Image):
    import imagehash
    return imagehash.phash(img.convert('L'), hash_size=8)


def _example_originals(root:Path, out:Path)->pd.DataFrame:
    "Write the lfw faces as 25×25 raw originals and 224×224 curated copies; return the originals table."
    from skimage.data import lfw_subset
    faces, rows, i = lfw_subset()[:100], [], 0
    for label, n in EXAMPLE_ORIGINALS.items():
        for split in _example_splits(n):
            raw = Image.fromarray((faces[i]*255).astype(np.uint8), 'L'); rel = f'{label}/lfw_{i:03d}.png'
            save_png_atomic(raw, root/'raw'/rel); big = _to_224(faces[i])
            save_png_atomic(big, out/'curated'/split/label/f'{label}_lfw_{i:03d}.png')
            a = np.asarray(raw, dtype=float)
            rows.append(dict(orig_id=rel, file_path=str(root/'raw'/rel), label=label, split=split, width=25, height=25,
                             mode='L', bytes=(root/'raw'/rel).stat().st_size, sha1=hashlib.sha1(raw.tobytes()).hexdigest(),
                             phash=str(_phash(raw)), gray_mean=a.mean(), gray_std=a.std(), dup_group=f'g{i:03d}',
                             near_group=f'g{i:03d}', label_conflict=False, curated=f'curated/{split}/{label}/{label}_lfw_{i:03d}.png'))
            i += 1
    return pd.DataFrame(rows)

def _example_plan(orig:pd.DataFrame, cfg:RunConfig)->pd.DataFrame:
    "The plan arithmetic of the contract, on the example's originals."
    tr = orig[orig.split == 'train'].groupby('label').size()
    p = pd.DataFrame({'original': orig.groupby('label').size(), 'original_train': tr})
    p['target'] = math.ceil(cfg.target_total / len(p)); p['need'] = (p.target - p.original).clip(lower=0)
    p['allowed_by_cap'] = np.floor((cfg.synthetic_cap * p.original_train / (1 - cfg.synthetic_cap)).round(9)).astype(int)
    p['planned'] = p[['need', 'allowed_by_cap']].min(axis=1); p['shortfall'] = p.need - p.planned
    p['shortfall_cause'] = np.where(p.shortfall > 0, 'cap', np.where(p.original > p.target, 'over_target', ''))
    p.index.name = 'label'
    return p


def _example_unit(out:Path, label:str, index:int, reason:str, builtin:bool, seen:dict)->dict:
    "Make, score and file one synthetic unit the way the gates would record it."
    from skimage.data import lfw_subset
    uid = f'{label}-{index:06d}'; seed = int(hashlib.sha256(uid.encode()).hexdigest()[:15], 16)
    img = _noise(seed, blurred=reason == 'blur') if builtin else _to_224(lfw_subset()[40 + len(seen) % 60])
    h = _phash(img); near_id, dist = min(((k, h - v) for k, v in seen.items()), key=lambda t: (t[1], t[0]))
    if reason == 'near_duplicate': near_id, dist = next(iter(seen)), 2
    rec = dict(unit_id=uid, label=label, index=index, seed=seed, status='rejected' if reason else 'accepted',
               reason=reason, face_count=0 if reason == 'face' else 1, face_box='' if reason == 'face' else '52,40,120,120',
               blur_var=round(_blur_var(img), 3), phash=str(h), nearest_id=near_id, nearest_dist=int(dist), path='',
               prompt=f'portrait photo of a person, {label} facial expression, neutral background, photorealistic',
               negative_prompt='cartoon, several people, blur, text, watermark', model_id='builtin:tiny' if builtin else
               'example/faces-from-lfw', steps=2, guidance=7.5)
    if reason: save_png_atomic(img.resize((64, 64)), out/'rejects'/reason/f'{uid}.png')
    else:
        rec['path'] = f'synthetic/{label}/{uid}.png'; seen[uid] = h
        save_png_atomic(img, out/rec['path']); save_png_atomic(img, out/'curated'/'train'/label/f'{uid}.png')
    return rec

def _example_journal(out:Path, orig:pd.DataFrame, plan:pd.DataFrame, builtin:bool)->pd.DataFrame:
    "Decide units in index order until each label has its planned images; write journal.jsonl."
    seen = {}
    for o in orig.itertuples():
        with Image.open(o.file_path) as im: seen[o.orig_id] = _phash(im)
    recs = []
    for label, planned in plan.planned.items():
        index, accepted = 0, 0
        while accepted < planned:
            rec = _example_unit(out, label, index, EXAMPLE_REJECTS.get(label, {}).get(index, ''), builtin, seen)
            recs.append(rec); accepted += rec['status'] == 'accepted'; index += 1
    Journal(out/'journal.jsonl').append(recs)
    return pd.DataFrame(recs)


def _example_manifests(out:Path, orig:pd.DataFrame, journal:pd.DataFrame)->pd.DataFrame:
    "Write train/val/test.csv and label_map.json; return the stacked manifest."
    labels = sorted(EXAMPLE_ORIGINALS); lmap = {l: i for i, l in enumerate(labels)}
    acc = journal[journal.status == 'accepted']
    rows = [dict(path=o.curated, label=o.label, source='original', origin=o.orig_id, group_id=o.near_group, split=o.split)
            for o in orig.itertuples()]
    rows += [dict(path=f'curated/train/{s.label}/{s.unit_id}.png', label=s.label, source='synthetic', origin=s.unit_id,
                  group_id=s.unit_id, split='train') for s in acc.itertuples()]
    man = pd.DataFrame(rows); man.insert(2, 'label_index', man.label.map(lmap))
    for s in SPLITS: atomic_write(out/f'{s}.csv', man[man.split == s].drop(columns='split').to_csv(index=False))
    atomic_write_json(out/'label_map.json', lmap)
    return man


def _du(paths)->dict:
    paths = [p for p in paths if p.is_file()]; n = sum(p.stat().st_size for p in paths)
    return dict(files=len(paths), bytes=n, apparent_bytes=n)

def _gray(paths:list)->dict:
    a = np.concatenate([np.asarray(Image.open(p).convert('L'), dtype=float).ravel() for p in paths])
    return dict(n=len(paths), mean=round(float(a.mean()), 6), std=round(float(a.std()), 6))

def _per_class(man:pd.DataFrame)->dict:
    out = {}
    for label, g in man.groupby('label'):
        o, s = int((g.source == 'original').sum()), int((g.source == 'synthetic').sum())
        out[label] = dict(original=o, synthetic=s, total=o + s, synthetic_fraction=round(s/(o + s), 6))
    return out

def _balance(man:pd.DataFrame)->dict:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in balance_summary(man.assign(dropped='')).items()}


def _example_status(out:Path, cfg:RunConfig, man:pd.DataFrame, journal:pd.DataFrame, plan:pd.DataFrame, demo:bool)->dict:
    "status.json counted from the example's files, in the shape `export.build_status` writes."
    pc = _per_class(man); rej = journal[journal.status == 'rejected']
    n = len(man); n_syn = int((man.source == 'synthetic').sum()); tr = _per_class(man[man.split == 'train'])
    return dict(
        total_images=n, total_original=n - n_syn, total_synthetic=n_syn, synthetic_fraction=round(n_syn/n, 6),
        per_class=pc, splits_fraction={s: round(float((man.split == s).mean()), 6) for s in SPLITS},
        image_size=dict(width=224, height=224, mode='L'), seed=cfg.seed, generation_model_id=cfg.model_id,
        prompts_version_hash=hashlib.sha256(b'example prompt bank').hexdigest(),
        quality_thresholds=dict(blur_var_min=cfg.blur_var_min, hash_dist_max=cfg.hash_dist_max, phash_size=cfg.phash_size),
        created_timestamp='2026-01-01T00:00:00+00:00',
        per_split={s: _per_class(man[man.split == s]) for s in SPLITS},
        split_counts={s: int((man.split == s).sum()) for s in SPLITS}, label_map={l: i for i, l in enumerate(sorted(pc))},
        synthetic_cap=dict(cap=cfg.synthetic_cap, splits=list(cfg.synthetic_splits),
                           holds=all(v['synthetic_fraction'] <= cfg.synthetic_cap for v in tr.values()),
                           train_fraction={l: v['synthetic_fraction'] for l, v in tr.items()}),
        over_cap_dropped=dict(count=0, by_class={}), balance=_balance(man), balance_train=_balance(man[man.split == 'train']),
        synthetic_generation=dict(candidates=len(journal), accepted=int((journal.status == 'accepted').sum()), rejected=len(rej),
                                  exhausted=0, rejects_by_reason=rej.groupby('reason').size().to_dict(),
                                  rejects_by_class={l: g.groupby('reason').size().to_dict() for l, g in rej.groupby('label')}),
        plan=dict(per_class={l: dict(target=int(r.target), need=int(r.need), allowed_by_cap=int(r.allowed_by_cap),
                                     planned=int(r.planned), shortfall=int(r.shortfall), shortfall_cause=r.shortfall_cause)
                             for l, r in plan.iterrows()}, shortfall_total=int(plan.shortfall.sum())),
        quarantined=dict(count=1, by_reason={'corrupt': 1}), config_hash=config_hash(cfg),
        disk_usage=dict(originals=_du(sorted(cfg.raw.rglob('*'))), synthetic=_du(sorted((out/'synthetic').rglob('*'))),
                        curated=_du(sorted((out/'curated').rglob('*')))),
        gray_stats={s: _gray([out/p for p in man[man.source == s].path]) for s in ('original', 'synthetic')},
        model=dict(model_id=cfg.model_id), model_is_builtin=cfg.model_id.startswith('builtin:'), demo=demo)


def build_example_run(root:str|Path, builtin:bool=True, demo:bool=False)->Path:
    "Write a small, self-consistent out_dir under `root` (raw originals in `root/raw`); return the out_dir."
    root = Path(root); cfg = _example_config(root, builtin); out = cfg.out
    orig = _example_originals(root, out); plan = _example_plan(orig, cfg)
    journal = _example_journal(out, orig, plan, builtin)
    man = _example_manifests(out, orig, journal)
    atomic_write(out/'originals.csv', orig.drop(columns='curated').to_csv(index=False))
    atomic_write(out/'plan.csv', plan.to_csv())
    acc = journal[journal.status == 'accepted']
    atomic_write(out/'synthetic_meta.csv', acc.to_csv(index=False))
    atomic_write(out/'quarantine.csv', 'path,reason,detail\nhappy/broken.jpg,corrupt,cannot identify image file\n')
    atomic_write_json(out/'run.json', dict(config=config_to_dict(cfg), config_hash=config_hash(cfg), demo=demo))
    atomic_write_json(out/'env_report.json', dict(python=sys.version.split()[0], platform=platform.platform(),
                      numpy=np.__version__, pandas=pd.__version__, matplotlib=mpl.__version__))
    atomic_write_json(out/'status.json', _example_status(out, cfg, man, journal, plan, demo))
    return out
