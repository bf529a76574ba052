"""Export throughput: hard-link path vs convert path (and byte copy, resume skip), on >= 5,000 images each.

Run: .venv/bin/python benchmarks/bench_export.py [--n 5000] [--threads]
Inputs are made in a temp dir: N 48x48 grayscale JPEG faces (the FER2013 sample when present, else
skimage's lfw_subset, each with a little seeded noise so no two are identical) as originals, and N
224x224 L PNGs as accepted synthetic images. Each path exports into a fresh out_dir (same filesystem).
"""
import argparse, io, logging, os, shutil, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from PIL import Image

from facesynth_nb.config import RunConfig
from facesynth_nb.curate import curate
from facesynth_nb.export import export_curated

FER = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'fer_sample'


def base_faces()->list:
    "48x48 uint8 faces: the FER2013 sample, or lfw_subset when it is absent."
    if FER.exists(): return [np.asarray(Image.open(p).convert('L')) for p in sorted(FER.glob('*/*.jpg'))]
    import skimage.data
    return [np.asarray(Image.fromarray((f * 255).astype(np.uint8)).resize((48, 48))) for f in skimage.data.lfw_subset()[:100]]


def make_inputs(root:Path, n:int)->tuple:
    """Write N originals (48x48 JPEG, each with its own seeded noise) under root/raw and N synthetic PNGs (224x224 L,
    byte copies of one PNG per base face: the link and copy paths do not look at the pixels) under root/syn."""
    rng, faces, labels = np.random.default_rng(0), base_faces(), ('angry', 'happy', 'sad', 'neutral', 'fear', 'surprise', 'disgust')
    pngs = []
    for f in faces:
        b = io.BytesIO(); Image.fromarray(f).resize((224, 224), Image.LANCZOS).save(b, format='PNG'); pngs.append(b.getvalue())
    orows, srows = [], []
    for i in range(n):
        label = labels[i % len(labels)]
        px = np.clip(faces[i % len(faces)].astype(np.int16) + rng.integers(-6, 7, (48, 48)), 0, 255).astype(np.uint8)
        p = root/'raw'/label/f'{i:06d}.jpg'; p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(px).save(p, quality=92)
        orows.append(dict(orig_id=p.relative_to(root/'raw').as_posix(), file_path=str(p), label=label, split='', near_group=f'g{i}'))
        uid = f'{label}-{i:06d}'; rel = f'synthetic/{label}/{uid}.png'; q = root/'syn'/rel; q.parent.mkdir(parents=True, exist_ok=True)
        q.write_bytes(pngs[i % len(pngs)])
        srows.append(dict(unit_id=uid, label=label, index=i, path=rel))
    return pd.DataFrame(orows), pd.DataFrame(srows)


def timed_export(cur, cfg, processes=None)->tuple:
    t = time.perf_counter(); r = export_curated(cur, cfg, processes=processes); return time.perf_counter() - t, r


def main(n:int, threads:bool=False):
    logging.basicConfig(level=logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix='bench_export_'))
    try:
        t0 = time.perf_counter(); orig, syn = make_inputs(root, n)
        print(f'inputs: {n} originals 48x48 JPEG + {n} synthetic 224x224 L PNG made in {time.perf_counter() - t0:.1f} s '
              f'({"FER2013 sample" if FER.exists() else "lfw_subset"}); cpu_count={os.cpu_count()}')
        base = RunConfig(raw_root=str(root/'raw'), seed=1, progress=False, split_fractions=(0.8, 0.1, 0.1))
        # synthetic only, all in train: every file is already 224x224 L PNG (hard-link or copy path)
        cfg_s = base.updated(out_dir=str(root/'syn'), synthetic_cap=0.99)
        cur_s = curate(orig.iloc[:0], syn, None, cfg_s)
        cur_s = cur_s.assign(split='train', dropped='')          # no originals: keep every synthetic image for the benchmark
        cfg_o = base.updated(out_dir=str(root/'conv'))
        cur_o = curate(orig, None, None, cfg_o)
        rows = []
        nw = cfg_o.workers or os.cpu_count()
        for name, cur, cfg, want, procs in (
                ('hard link', cur_s, cfg_s, 'linked', False),
                ('byte copy', cur_s, cfg_s.updated(export_mode='copy'), 'copied', False),
                (f'convert 48->224, {nw} processes', cur_o, cfg_o, 'converted', True),
                *([(f'convert 48->224, {nw} threads', cur_o, cfg_o, 'converted', False)] if threads else []),
                ('rerun, all present (resume)', cur_o, cfg_o, 'skipped', True)):
            if want in ('linked', 'converted'): shutil.rmtree(cfg.out/'curated', ignore_errors=True)
            s, r = timed_export(cur, cfg, procs)
            assert r[want] == len(cur[cur.dropped == '']), (name, r)
            rows.append((name, r['total'], s, r['total'] / s))
        print(f"{'path':34s} {'images':>7s} {'seconds':>8s} {'images/s':>9s}")
        for name, k, s, ips in rows: print(f'{name:34s} {k:7d} {s:8.2f} {ips:9.0f}')
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=5000, help='images per path (>= 5000 for the recorded figures)')
    ap.add_argument('--threads', action='store_true', help='also time the convert path in threads (for comparison)')
    a = ap.parse_args(); main(a.n, a.threads)
