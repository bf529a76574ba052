"""The label check across stages: a validator trained on real train-split originals, and the label gate it drives.

Real faces from scikit-image (`lfw_subset`: 100 faces, 100 patches that are not faces), so this runs with or
without `../shared`. Three labels a CNN can learn from pixels: `face`, `other` (not a face) and `sideways` (a
face turned a quarter). Candidates are faces the validator never saw, written as the 224² grayscale PNGs the
pipeline writes, offered under their own label and under a wrong one."""
import io
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data as skdata
from facesynth_nb.config import RunConfig
from facesynth_nb.embed import HogEmbedder
from facesynth_nb import gates
from facesynth_nb.label_check import fit_validator

LFW = (skdata.lfw_subset() * 255).round().astype(np.uint8)

def _image(i:int, label:str)->Image.Image:
    im = Image.fromarray(LFW[i])
    return im.rotate(90) if label == 'sideways' else im

def _png(im:Image.Image)->bytes:
    b = io.BytesIO(); im.resize((224, 224), Image.BICUBIC).convert('L').save(b, 'PNG'); return b.getvalue()

@pytest.fixture(scope='module')
def originals(tmp_path_factory):
    "60 train and 15 val originals per label, as files; faces 75-99 are never shown to the validator."
    d, rows = tmp_path_factory.mktemp('orig'), []
    for label, first in (('face', 0), ('other', 100), ('sideways', 0)):
        for k in range(75):
            p = d/f'{label}_{k:03d}.png'; _image(first + k, label).save(p)
            rows.append(dict(file_path=p, label=label, assigned_split='train' if k < 60 else 'val'))
    df = pd.DataFrame(rows)
    X = HogEmbedder().embed([Image.open(p).convert('RGB') for p in df.file_path])
    return df, X

def test_cnn_validator_rejects_a_wrong_label_face(originals, tmp_path):
    df, X = originals
    cfg = RunConfig(label_validator='cnn', label_epochs=20, label_prob_min=0.2, seed=0)   # label_policy auto
    v = fit_validator(df, X, cfg, cache_dir=tmp_path)
    assert v.kind == 'cnn' and v.n_held == 45 and v.accuracy >= gates.LABEL_AUTO_FLOOR, v.summary()
    ctx = gates.GateContext(validator=v)
    assert gates.GATES['label'].mode(cfg, ctx) == 'reject'    # accurate enough on held-out faces: auto rejects
    right = [gates.decide({'png': _png(_image(i, 'face'))}, ctx, cfg, label='face') for i in range(75, 100)]
    wrong = [gates.decide({'png': _png(_image(i, 'face'))}, ctx, cfg, label='other') for i in range(75, 100)]
    assert sum(d['reason'] == 'label' for d in wrong) >= 22, [d['label_prob'] for d in wrong]
    assert sum(d['reason'] == '' for d in right) >= 22, [d['label_prob'] for d in right]
    assert all(d['label_pred'] in ('face', 'sideways') for d in wrong[:5])
    # the same faces turned a quarter are `sideways`, not `face`: the validator reads the picture, not the file
    turned = [gates.decide({'png': _png(_image(i, 'sideways'))}, ctx, cfg, label='face') for i in range(75, 100)]
    assert sum(d['reason'] == 'label' for d in turned) >= 20, [d['label_prob'] for d in turned]

def test_a_weak_validator_only_flags(originals, tmp_path):
    "Trained on faces whose labels are noise, the validator is near chance on held-out faces: auto only flags."
    df, X = originals
    shuffled = df.assign(label=np.random.default_rng(0).permutation(df.label.to_numpy()))
    cfg = RunConfig(label_epochs=5, seed=0)
    v = fit_validator(shuffled, X, cfg, cache_dir=tmp_path)
    assert set(v.compared) == {'embedding', 'cnn'} and round(v.accuracy, 4) == max(v.compared.values())
    assert v.accuracy < gates.LABEL_AUTO_FLOOR, v.summary()
    assert gates.GATES['label'].mode(cfg, gates.GateContext(validator=v)) == 'flag'
    d = gates.decide({'png': _png(_image(80, 'face')), 'embedding': HogEmbedder().embed([_image(80, 'face').convert('RGB')])[0]},
                     gates.GateContext(validator=v), cfg, label='other')
    assert d['reason'] == '' and (d['flags'] == ['label'] or d['label_prob'] >= cfg.label_prob_min)
