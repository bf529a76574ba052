"""The look of exported synthetic faces, from the outside: a candidate whose face sits off-centre and small is
exported with its face where the originals' faces sit (`synthetic_framing='match'`), as generated with `full`;
tone matching gives it its label's gray levels; native resampling its originals' loss of detail; what was applied
is in the journal and synthetic_meta.csv. The originals are real faces (the FER sample, or scikit-image's)."""
import json
from pathlib import Path
import numpy as np, pandas as pd
from PIL import Image
from skimage import data as skdata
from conftest import FER
from facesynth_nb.gates import get_detector
from facesynth_nb.look import relative_box, gray_cdf
from test_quality import save_all, run_synth

LFW = (skdata.lfw_subset()[:40] * 255).round().astype(np.uint8)
DET = get_detector('haar_alt2')


def off_centre(face:np.ndarray)->Image.Image:
    "A 256² gray canvas with `face` enlarged to 96 px in its upper right part: a small face, off-centre."
    c = np.full((256, 256), 110, np.uint8)
    c[24:120, 140:236] = np.asarray(Image.fromarray(face).resize((96, 96), Image.LANCZOS))
    return Image.fromarray(c).convert('RGB')


def candidates(tmp:Path)->Path:
    return save_all(tmp/'cands', {'happy': [off_centre(f) for f in LFW[:12]], 'sad': [off_centre(f) for f in LFW[12:24]]})


def boxes(out:Path, table:pd.DataFrame)->list:
    "Relative face boxes (w, cx, cy) found on the exported files of `table`."
    found = []
    for p in table.path:
        g = np.asarray(Image.open(out/p).convert('L'))
        b = DET.detect(g)
        if len(b) == 1: found.append(relative_box(b[0], g.shape[::-1], g.shape[0]))
    return found


def test_framing_puts_the_face_where_the_originals_faces_sit(tmp_path):
    cands = candidates(tmp_path)
    t, j = run_synth(tmp_path, FER, cands, 'match', 12, label_policy='off', synthetic_resample='off')
    look = json.loads((tmp_path/'match'/'look.json').read_text())
    fr = look['frame']
    assert fr and fr['faces'] >= 10, fr
    # a candidate where the detector finds no face is exported whole, and says so
    assert set(t['framing']) <= {'match', 'full (no face)'} and (t['framing'] == 'match').sum() >= 20, t['framing'].value_counts()
    t = t[t['framing'] == 'match']
    got = np.array(boxes(tmp_path/'match', t))
    assert len(got) >= 0.8 * len(t), len(got)
    w, cx, cy = np.median(got, axis=0)
    assert abs(w - fr['w']) < 0.12 and abs(cx - fr['cx']) < 0.08 and abs(cy - fr['cy']) < 0.08, (got, fr)
    meta = pd.read_csv(tmp_path/'match'/'synthetic_meta.csv')
    assert set(meta['framing']) <= {'match', 'full (no face)'} and set(meta['tone']) == {'off'} and set(meta['resample']) == {'off'}
    # the same candidates exported as generated keep their small, off-centre face
    t2, _ = run_synth(tmp_path, FER, cands, 'full', 12, label_policy='off', synthetic_framing='full',
                      synthetic_resample='off')
    w2, cx2, cy2 = np.median(np.array(boxes(tmp_path/'full', t2)), axis=0)
    assert w2 < 0.5 and cx2 > 0.6 and cy2 < 0.4, (w2, cx2, cy2)
    assert not (tmp_path/'full'/'look.json').exists() and ('framing' not in t2.columns or t2['framing'].isna().all())


def _roundtrip(im:Image.Image, n:int)->float:
    "Mean gray-level change of `im` taken down to n² and back up."
    rt = im.resize((n, n), Image.LANCZOS).resize(im.size, Image.BILINEAR)
    return float(np.abs(np.asarray(rt, float) - np.asarray(im, float)).mean())


def test_tone_matching_gives_each_label_its_originals_gray_levels(tmp_path):
    t, _ = run_synth(tmp_path, FER, candidates(tmp_path), 'toned', 12, label_policy='off', synthetic_tone='match',
                     synthetic_resample='off')
    look = json.loads((tmp_path/'toned'/'look.json').read_text())
    assert set(t['tone']) == {'match'} and set(t['resample']) == {'off'}, t[['tone', 'resample']]
    for lb, g in t.groupby('label'):
        cdf = np.mean([gray_cdf(np.asarray(Image.open(tmp_path/'toned'/p).convert('L').resize((64, 64))))
                       for p in g.path], axis=0)
        assert np.abs(cdf - np.array(look['tone'][lb])).max() < 0.12, lb
        plain = np.mean([gray_cdf(np.asarray(c.convert('L'))) for c in map(off_centre, LFW[:12])], axis=0)
        assert np.abs(plain - np.array(look['tone'][lb])).max() > 0.2   # without matching they were far apart


def test_native_resampling_carries_the_originals_loss_of_detail(tmp_path):
    rng = np.random.default_rng(0)   # grain: detail finer than the originals' 48 px
    grain = [Image.fromarray(np.clip(np.asarray(off_centre(f)).astype(int) + rng.integers(-25, 26, (256, 256, 1)), 0, 255)
                             .astype(np.uint8)) for f in LFW[:24]]
    cands = save_all(tmp_path/'grain', {'happy': grain[:12], 'sad': grain[12:]})
    t, _ = run_synth(tmp_path, FER, cands, 'native', 12, label_policy='off')   # the default: native
    t0, _ = run_synth(tmp_path, FER, cands, 'sharp', 12, label_policy='off', synthetic_resample='off')
    n = json.loads((tmp_path/'native'/'look.json').read_text())['native']
    assert n == 48 and set(t['resample']) == {'native 48px'}, (n, set(t['resample']))
    # a native export has (almost) nothing finer than 48 px left; the plain export of the same candidate has
    err = [_roundtrip(Image.open(tmp_path/'native'/p).convert('L'), n) for p in t.path]
    err0 = [_roundtrip(Image.open(tmp_path/'sharp'/p).convert('L'), n) for p in t0.path]
    assert np.median(err) < 0.5 * np.median(err0), (np.median(err), np.median(err0))
    assert len(t) == len(t0)   # the gates judged the same plain exports: the same candidates pass
