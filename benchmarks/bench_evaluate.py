"""Time of `facesynth evaluate` on a corpus of N exported images: probe (default settings) and cnn (CPU figure).

Run: .venv/bin/python benchmarks/bench_evaluate.py [--n 10000] [--cnn-n 2000] [--skip-cnn]
A finished-looking out_dir is written in a temp dir: N 224x224 L PNGs (the exported size and mode; each a
base face, FER2013 sample when present else skimage's lfw_subset, with its own seeded noise and shift),
7 labels, 10 % test and 10 % val (real), 80 % train of which half is synthetic, manifests and a status.json.
`evaluate_run` is then timed with the probe (HOG embedder, 3 seeds, 3 arms, 1,000 bootstrap resamples):
once with an empty embedding cache (the first evaluation of a run) and once warm (a rerun). The CNN is
timed for one epoch and one seed on `--cnn-n` images and its full default budget is extrapolated.
"""
import argparse, json, os, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from PIL import Image

from facesynth_nb.evaluate import evaluate_run

FER = Path(__file__).resolve().parents[1].parent/'shared'/'data'/'fer_sample'
LABELS = ('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise')


def base_faces()->list:
    "48x48 uint8 faces: the FER2013 sample, or lfw_subset when it is absent."
    if FER.exists(): return [np.asarray(Image.open(p).convert('L')) for p in sorted(FER.glob('*/*.jpg'))]
    import skimage.data
    return [np.asarray(Image.fromarray((f * 255).astype(np.uint8)).resize((48, 48))) for f in skimage.data.lfw_subset()[:100]]


def make_out_dir(out:Path, n:int)->dict:
    "Write n exported-looking PNGs and train/val/test manifests under `out`; return the split sizes."
    rng, faces, rows = np.random.default_rng(0), base_faces(), []
    for i in range(n):
        label = LABELS[i % len(LABELS)]
        f = np.roll(faces[i % len(faces)], rng.integers(-3, 4, 2), axis=(0, 1)).astype(np.int16)
        px = np.clip(f + rng.integers(-8, 9, f.shape), 0, 255).astype(np.uint8)
        r = rng.random()
        split = 'test' if r < 0.1 else 'val' if r < 0.2 else 'train'
        source = 'synthetic' if split == 'train' and rng.random() < 0.5 else 'original'
        rel = f'curated/{split}/{label}/{i:06d}.png'
        (out/rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(px).resize((224, 224), Image.BILINEAR).save(out/rel, compress_level=1)
        rows.append(dict(path=rel, label=label, label_index=LABELS.index(label), source=source, origin='', group_id=f'g{i}',
                         split=split))
    df = pd.DataFrame(rows)
    for s in ('train', 'val', 'test'): df[df.split == s].drop(columns='split').to_csv(out/f'{s}.csv', index=False)
    (out/'status.json').write_text(json.dumps(dict(total_images=n)))
    return df.groupby(['split', 'source']).size().to_dict()


def timed(fn)->tuple:
    t = time.perf_counter(); r = fn(); return r, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=10_000); ap.add_argument('--cnn-n', type=int, default=2000)
    ap.add_argument('--skip-cnn', action='store_true')
    a = ap.parse_args()
    import torch
    print(f'cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}')
    with tempfile.TemporaryDirectory() as td:
        out = Path(td)/'out'
        sizes, t_make = timed(lambda: make_out_dir(out, a.n))
        print(f'corpus: {a.n:,} PNGs 224x224 L written in {t_make:.1f} s; {sizes}')
        ev, t_cold = timed(lambda: evaluate_run(out, render=False, embedder='hog', progress=False))
        _, t_warm = timed(lambda: evaluate_run(out, render=False, embedder='hog', progress=False))
        n_fit = sum(ev['split_sizes'][k]['total'] for k in ('train_real', 'train_mixed', 'train_synthetic'))
        print(f"probe, {a.n:,} images, 3 seeds x {len(ev['arms'])} arms ({n_fit:,} training images per seed), "
              f"{ev['split_sizes']['test_real']['total']:,} real test images:")
        print(f'  cold cache (first evaluation): {t_cold:.1f} s  = {t_cold / a.n * 1000:.2f} ms per image')
        print(f'  warm cache (rerun):            {t_warm:.1f} s  -> embedding ~{t_cold - t_warm:.1f} s, fits + bootstrap ~{t_warm:.1f} s')
        print(f'  extrapolated to 30,000 images (linear): {t_cold * 30_000 / a.n / 60:.1f} min cold, '
              f'{t_warm * 30_000 / a.n / 60:.1f} min warm (target < 5 min)')
        print(f"  macro-F1 real {ev['arms']['real']['mean']['macro_f1']:.3f}, mixed {ev['arms']['mixed']['mean']['macro_f1']:.3f}: "
              f"{ev['verdict']}")
        if a.skip_cnn: return
        small = Path(td)/'small'
        make_out_dir(small, a.cnn_n)
        ev, t_cnn = timed(lambda: evaluate_run(small, render=False, eval_classifier='cnn', eval_epochs=1, eval_seeds=1,
                                               eval_synthetic_only=False, device='cpu'))
        n_tr = ev['split_sizes']['train_real']['total'] + ev['split_sizes']['train_mixed']['total']
        per = t_cnn / n_tr
        n30 = 30_000 * 0.8 * (1 + 1 + 0.5)   # real (half of train) + mixed (all of train) + synthetic (half) per seed
        print(f'cnn on CPU, {a.cnn_n:,} images, 1 epoch, 1 seed, real + mixed arms ({n_tr:,} training images): '
              f'{t_cnn:.1f} s = {per * 1000:.2f} ms per training image-epoch (incl. loading, val and test passes)')
        print(f'  extrapolated: 30,000 images, 10 epochs, 3 seeds, 3 arms = {n30 * 10 * 3 * per / 3600:.1f} h on this CPU')


if __name__ == '__main__': main()
