"""The evaluator's control on real FER faces: can `facesynth evaluate` see a gain that is certainly there?

A few dozen real train faces per label (`fer_train300`, beside this project in `../shared`), and as "synthetic"
candidates, offered through the `folder:` generator as a user would, MORE REAL FER faces of the same labels:
that must come out as a gain, its interval above zero. The same faces under shuffled labels (each label's faces
handed to the next label) must come out worse. Until the first holds, no verdict on synthetic faces means
anything (issue #19).

Without `../shared` the same two controls run on scikit-image's lfw_subset (faces vs patches that are not
faces, as in test_evaluate.py), so a clone alone runs them too.
"""
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from facesynth_nb.config import RunConfig
from facesynth_nb.evaluate import evaluate_run
from facesynth_nb.pipeline import run_pipeline
from conftest import shared_dir

FER300 = shared_dir()/'data'/'fer_train300'
HAVE_FER300 = FER300.is_dir()
# per label: real train, real val, real test, extra real faces offered as candidates
SIZES = (30, 10, 60, 120) if HAVE_FER300 else (6, 4, 50, 40)


def _sources()->dict:
    "{label: [images]} of real faces whose label a recognizer can learn."
    if HAVE_FER300:
        return {d.name: sorted(d.glob('*.jpg')) for d in sorted(FER300.iterdir()) if d.is_dir()}
    lfw = (skdata.lfw_subset() * 255).round().astype(np.uint8)
    return dict(happy=list(lfw[:100]), neutral=list(lfw[100:]))   # faces / not faces (see test_evaluate.py)


def _put(img, dest:Path):
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(img, Path): shutil.copy(img, dest.with_suffix(img.suffix))
    else: Image.fromarray(img).save(dest.with_suffix('.png'))


def control_run(root:Path, shuffled:bool)->Path:
    "A finished run: real splits in raw_root, the extra real faces as `folder:` candidates (labels shuffled or not)."
    src, (ntr, nva, nte, nex) = _sources(), SIZES
    labels = sorted(src); to = dict(zip(labels, labels[1:] + labels[:1])) if shuffled else {lb: lb for lb in labels}
    for lb, imgs in src.items():
        parts = dict(train=imgs[:ntr], val=imgs[ntr:ntr + nva], test=imgs[ntr + nva:ntr + nva + nte])
        for split, sel in parts.items():
            for i, im in enumerate(sel): _put(im, root/'raw'/split/lb/f'{lb}_{split}_{i:03d}')
        for i, im in enumerate(imgs[ntr + nva + nte:ntr + nva + nte + nex]): _put(im, root/'cand'/to[lb]/f'{lb}_x{i:03d}')
    n = len(labels)
    cfg = RunConfig(raw_root=str(root/'raw'), out_dir=str(root/'out'), model_id=f"folder:{root/'cand'}",
                    # the control tests the evaluator, not the gates or the look: every candidate goes in as it is
                    face_policy='off', blur_var_min=0.0, label_policy='off', semantic_dup_min=0.999,
                    synthetic_framing='full', synthetic_cap=0.95, embedder='hog', image_size=64,
                    target_total=n * (ntr + nva + nte + nex), progress=False, workers=1)
    res = run_pipeline(cfg)
    assert res.status['total_synthetic'] >= 0.9 * n * nex, res.status['total_synthetic']
    return cfg.out


def _macro(ev): return ev['comparisons']['mixed-real']['macro_f1']


def test_more_real_faces_of_the_right_labels_are_a_gain(tmp_path):
    ev = evaluate_run(control_run(tmp_path, shuffled=False), render=False)
    m = _macro(ev)
    assert m['verdict'] == 'gain' and m['ci95'][0] > 0 and ev['verdict'] == 'gain', (m, ev['arms']['real']['mean'])
    assert m['n'] == len(_sources()) * SIZES[2]


def test_the_same_faces_under_shuffled_labels_are_worse(tmp_path):
    ev = evaluate_run(control_run(tmp_path, shuffled=True), render=False)
    m = _macro(ev)
    assert m['verdict'] == 'worse' and m['ci95'][1] < 0 and ev['verdict'] == 'worse', m
