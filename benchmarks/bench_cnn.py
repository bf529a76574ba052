"""Does each classifier of `facesynth evaluate` learn FER, and what does the CNN cost per image-epoch on this machine?

Run: .venv/bin/python benchmarks/bench_cnn.py [--train 40 --val 20 --test 100 --extra 140] [--epochs 30] [--seeds 1]
Needs ../shared/data/fer_train300 (300 real FER2013 train faces per label). A split per label: `train` real
train faces, `val`, `test` real test faces, and `extra` MORE real faces. Both classifiers (the HOG probe with its
val-chosen C, the CNN with the default settings) are trained on the real train faces and on real + extra, and
scored on the real test faces: a classifier that can judge added faces must gain from more real ones.
Prints accuracy and macro-F1 per arm and the CNN's ms per training image-epoch (training only, and with the
val/test passes).
"""
import argparse, os, tempfile, time
from pathlib import Path
import numpy as np

from facesynth_nb.config import RunConfig
from facesynth_nb.evaluate import get_classifier, scores, confusion

FER300 = Path(os.environ.get('FACESYNTH_SHARED', Path(__file__).resolve().parents[1].parent/'shared'))/'data'/'fer_train300'


def split(ntr, nva, nte, nex):
    labels = sorted(d.name for d in FER300.iterdir() if d.is_dir())
    parts = dict(train=[], val=[], test=[], extra=[])
    for k, lb in enumerate(labels):
        fs = sorted((FER300/lb).glob('*.jpg'))
        for name, sl in (('train', slice(0, ntr)), ('val', slice(ntr, ntr + nva)),
                         ('test', slice(ntr + nva, ntr + nva + nte)), ('extra', slice(ntr + nva + nte, ntr + nva + nte + nex))):
            parts[name] += [(str(f), k) for f in fs[sl]]
    return labels, parts


def main():
    ap = argparse.ArgumentParser()
    for n, d in (('train', 40), ('val', 20), ('test', 100), ('extra', 140), ('epochs', 30), ('seeds', 1)):
        ap.add_argument(f'--{n}', type=int, default=d)
    ap.add_argument('--skip-cnn', action='store_true')
    a = ap.parse_args()
    if not FER300.is_dir(): raise SystemExit(f'{FER300} is missing: this benchmark needs the shared FER faces')
    import torch
    print(f'cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}')
    labels, p = split(a.train, a.val, a.test, a.extra)
    files = [f for part in p.values() for f, _ in part]
    y = np.array([k for part in p.values() for _, k in part])
    at = np.cumsum([0] + [len(v) for v in p.values()])
    idx = {name: np.arange(at[i], at[i + 1]) for i, name in enumerate(p)}
    arms = dict(real=idx['train'], more_real=np.r_[idx['train'], idx['extra']])
    print(f"{len(labels)} labels; per label {a.train} train, {a.val} val, {a.test} test, {a.extra} extra real faces")
    with tempfile.TemporaryDirectory() as td:
        for name in ('probe',) + (() if a.skip_cnn else ('cnn',)):
            cfg = RunConfig(eval_classifier=name, eval_epochs=a.epochs, embedder='hog', device='cpu')
            clf = get_classifier(cfg, len(labels))
            t = time.perf_counter(); clf.prepare(files, np.r_[idx['train'], idx['extra']], Path(td)/'cache')
            t_prep = time.perf_counter() - t
            res = {}
            for arm, tr in arms.items():
                accs, f1s, secs = [], [], []
                for s in range(a.seeds):
                    t = time.perf_counter()
                    pred = clf.fit_predict(tr, y[tr], idx['val'], y[idx['val']], idx['test'], seed=s)
                    secs.append(time.perf_counter() - t)
                    sc = scores(confusion(y[idx['test']], pred, len(labels)))
                    accs.append(float(sc['accuracy'])); f1s.append(float(sc['macro_f1']))
                res[arm] = (np.mean(accs), np.mean(f1s), np.mean(secs), len(tr))
            line = ', '.join(f"{arm}: accuracy {r[0]:.3f} macro-F1 {r[1]:.3f} ({r[3]} images, {r[2]:.1f} s per fit)"
                             for arm, r in res.items())
            print(f'{name} (prepare {t_prep:.1f} s): {line}')
            if name == 'cnn':
                n_ep = sum(r[3] for r in res.values()) * a.epochs
                t_all = sum(r[2] for r in res.values())
                print(f'  cnn: {t_all / n_ep * 1000:.2f} ms per training image-epoch (training + per-epoch val pass, '
                      f'{a.epochs} epochs, {torch.get_num_threads()} threads)')


if __name__ == '__main__': main()
