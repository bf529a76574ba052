"""How accurate is each label validator on FER faces it never saw, and what does the CNN one cost?

Run: .venv/bin/python benchmarks/bench_validator.py [--per-label 50 100 200 280] [--held 20] [--epochs 30]
Needs ../shared/data/fer_train300 (300 real FER2013 train faces per label). Per label the last `held` faces are
held out; the validators are trained on the first n faces per label, for each n asked for: the embedding validator
(HOG + logistic regression, `validate.LabelValidator`) and the CNN validator (`validate.CnnValidator`), both
scored on the same held-out faces. Prints held-out accuracy of each, the CNN's training time and ms per training
image-epoch, and its cost per candidate (one 224² PNG scored at a time, as the label gate does).
"""
import argparse, io, os, time
from pathlib import Path
import numpy as np
from PIL import Image

from facesynth_nb.embed import HogEmbedder
from facesynth_nb.label_check import CnnValidator, LabelValidator

FER300 = Path(os.environ.get('FACESYNTH_SHARED', Path(__file__).resolve().parents[1].parent/'shared'))/'data'/'fer_train300'


def faces(n:int, held:int)->tuple:
    "(train files, train labels, held files, held labels): the first n and the last `held` faces per label."
    tr, ytr, he, yhe = [], [], [], []
    for lb in sorted(d.name for d in FER300.iterdir() if d.is_dir()):
        fs = sorted((FER300/lb).glob('*.jpg'))
        tr += fs[:n]; ytr += [lb] * len(fs[:n]); he += fs[-held:]; yhe += [lb] * held
    return tr, np.array(ytr), he, np.array(yhe)


def png(path:Path)->bytes:
    b = io.BytesIO()
    with Image.open(path) as im: im.convert('L').resize((224, 224), Image.BICUBIC).save(b, 'PNG')
    return b.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--per-label', type=int, nargs='+', default=[50, 100, 200, 280])
    ap.add_argument('--held', type=int, default=20)
    ap.add_argument('--epochs', type=int, default=30)
    a = ap.parse_args()
    if not FER300.is_dir(): raise SystemExit(f'{FER300} is missing: this benchmark needs the shared FER faces')
    import torch
    print(f'cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}')
    hog = HogEmbedder()
    for n in a.per_label:
        tr, ytr, he, yhe = faces(n, a.held)
        X = hog.embed([Image.open(f).convert('RGB') for f in tr]); Xh = hog.embed([Image.open(f).convert('RGB') for f in he])
        lv = LabelValidator(X, ytr)
        hog_acc = float((np.array(lv._classes)[lv.proba(Xh).argmax(1)] == yhe).mean())
        t = time.perf_counter()
        cv = CnnValidator.fit(tr, ytr, he, yhe, a.epochs, seed=0, device='cpu')
        secs = time.perf_counter() - t
        pngs = [png(f) for f in he[:100]]
        t = time.perf_counter()
        for p, lb in zip(pngs, yhe[:100]): cv.score(p, lb)
        per = (time.perf_counter() - t) / len(pngs)
        print(f'{n:4d} train faces per label ({len(tr)}), {len(he)} held out: embedding (HOG) {hog_acc:.3f} '
              f'(its 5-fold CV {lv.accuracy:.3f}), CNN {cv.accuracy:.3f}; CNN trained in {secs:.1f} s = '
              f'{secs / len(tr) / a.epochs * 1000:.2f} ms per image-epoch; {per * 1000:.1f} ms per candidate; '
              f'load {os.getloadavg()[0]:.1f}', flush=True)


if __name__ == '__main__':
    main()
