"""The semantic gates from the outside, on real faces: the label gate, semantic and flip-aware near-duplicates,
FD drift, the quality block, and SIGKILL resume with `hog` and the tiny CLIP."""
import io, json, signal
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from PIL import Image, ImageOps
from skimage import data as skdata
from conftest import FER, HAVE_FER, facesynth, start_facesynth, wait_for, kill_group
from test_reliability import outputs, no_torn_files
from facesynth_nb.config import RunConfig
from facesynth_nb.curate import split_originals
from facesynth_nb.ingest import scan_raw_root
from facesynth_nb.prompts import load_prompt_bank
from facesynth_nb.loop import synthesize, load_decisions
from facesynth_nb.embed import HogEmbedder
from facesynth_nb.quality import frechet_distance, kernel_distance
from facesynth_nb.pipeline import make_demo_raw_root

LFW = [Image.fromarray(a).convert('RGB').resize((224, 224), Image.LANCZOS)
       for a in (skdata.lfw_subset()[:100] * 255).round().astype('uint8')]

def save_all(root:Path, by_label:dict)->Path:
    for lb, ims in by_label.items():
        (root/lb).mkdir(parents=True, exist_ok=True)
        for i, im in enumerate(ims): im.save(root/lb/f'{i:03d}.png')
    return root

def run_synth(tmp:Path, raw:Path, cands:Path, name:str, planned:int, **kw):
    "Generate from the `folder:` candidates with the originals' split fixed, as the pipeline does."
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp/name), model_id=f'folder:{cands}', face_policy='off',
                    blur_var_min=0.0, progress=False, workers=1, **kw)
    orig = scan_raw_root(cfg)
    orig = orig.assign(assigned_split=split_originals(orig, cfg))
    labels = sorted(orig.label.unique())
    plan = pd.DataFrame({'planned': planned, 'max_candidates': planned}, index=pd.Index(labels, name='label'))
    table = synthesize(orig, plan, load_prompt_bank(cfg), cfg)
    return table, {r['unit_id']: r for r in load_decisions(cfg.out)}

def jpeg(im, q=60):
    b = io.BytesIO(); im.save(b, 'JPEG', quality=q)
    return Image.open(io.BytesIO(b.getvalue())).convert('RGB')

def shift(im, d=4): return ImageOps.fit(im.crop((d, d, im.width, im.height)), im.size)

# ---------------------------------------------------------------- the label gate
def test_right_label_faces_accepted_more_often_than_wrong_label(tmp_path):
    "Real faces with a label HOG can see (happy = upright, sad = turned sideways): held-out faces under the right label pass."
    up, side = LFW[:40], [im.rotate(90) for im in LFW[:40]]
    raw = save_all(tmp_path/'raw', {'happy': up, 'sad': side})
    new_up, new_side = LFW[50:70], [im.rotate(90) for im in LFW[50:70]]
    right = save_all(tmp_path/'right', {'happy': new_up, 'sad': new_side})
    wrong = save_all(tmp_path/'wrong', {'happy': new_side, 'sad': new_up})
    kw = dict(label_policy='reject', label_prob_min=0.5)
    t_right, j_right = run_synth(tmp_path, raw, right, 'r', 20, **kw)
    t_wrong, j_wrong = run_synth(tmp_path, raw, wrong, 'w', 20, **kw)
    assert len(t_right) >= 30 and len(t_wrong) <= 10, (len(t_right), len(t_wrong))
    assert sum(r['reason'] == 'label' for r in j_wrong.values()) >= 30
    assert np.mean([r['label_prob'] for r in j_right.values()]) > 0.7 > 0.3 > \
           np.mean([r['label_prob'] for r in j_wrong.values()])
    assert all(r['label_pred'] != r['label'] for r in j_wrong.values() if r['reason'] == 'label')

def test_label_policy_flag_keeps_but_records(tmp_path):
    up, side = LFW[:40], [im.rotate(90) for im in LFW[:40]]
    raw = save_all(tmp_path/'raw', {'happy': up, 'sad': side})
    wrong = save_all(tmp_path/'wrong', {'happy': [im.rotate(90) for im in LFW[50:60]], 'sad': LFW[50:60]})
    t, j = run_synth(tmp_path, raw, wrong, 'f', 10, label_policy='flag', label_prob_min=0.5)
    assert len(t) == 20 and sum('label' in r['flags'] for r in j.values()) >= 15
    assert 'label_score' in t.columns and 'label' in t.columns

# ---------------------------------------------------------------- duplicates of originals
@pytest.mark.parametrize('name,copy', [('mirrored', ImageOps.mirror), ('reencoded', jpeg), ('shifted', shift)])
def test_copies_of_originals_are_rejected_as_duplicates(tmp_path, name, copy):
    raw = save_all(tmp_path/'raw', {'angry': LFW[:20], 'disgust': LFW[20:40]})
    cands = save_all(tmp_path/'c', {'angry': [copy(im) for im in LFW[:10]] + LFW[60:70],
                                    'disgust': [copy(im) for im in LFW[20:30]] + LFW[70:80]})
    t, j = run_synth(tmp_path, raw, cands, name, 20, label_policy='off')
    copies = [r for r in j.values() if r['index'] < 10]
    fresh = [r for r in j.values() if r['index'] >= 10]
    assert all(r['status'] == 'rejected' for r in copies), [(r['unit_id'], r['reject_reasons']) for r in copies]
    assert all('semantic_duplicate' in r['reject_reasons'] for r in copies)
    if name == 'mirrored':    # plain pHash misses a mirror; the flip-aware lookup does not
        assert all('near_duplicate' in r['reject_reasons'] for r in copies)
    assert sum(r['status'] == 'accepted' for r in fresh) >= 18, [r['reject_reasons'] for r in fresh]
    assert set(t.unit_id) == {r['unit_id'] for r in fresh if r['status'] == 'accepted'}

def test_semantic_duplicate_of_an_accepted_image(tmp_path):
    "A later candidate that copies an earlier accepted one is rejected against it, in unit order."
    raw = save_all(tmp_path/'raw', {'angry': LFW[:10]})
    cands = save_all(tmp_path/'c', {'angry': [LFW[50], LFW[51], shift(jpeg(LFW[50]), 3), LFW[52]]})
    t, j = run_synth(tmp_path, raw, cands, 'acc', 4, label_policy='off')
    assert j['angry-000002']['status'] == 'rejected' and j['angry-000002']['semantic_nearest_id'] == 'angry-000000'
    assert list(t.unit_id) == ['angry-000000', 'angry-000001', 'angry-000003']

# ---------------------------------------------------------------- drift
def test_fd_between_real_halves_is_far_below_real_vs_noise(tmp_path):
    from facesynth_nb.generators import get_generator
    from facesynth_nb.loop import make_unit
    e = HogEmbedder()
    real = e.embed(LFW)
    cfg = RunConfig(model_id='builtin:tiny', num_inference_steps=2, face_policy='off', progress=False,
                    out_dir=str(tmp_path/'o'))
    bank = load_prompt_bank(cfg)
    noise = [c.image for c in get_generator(cfg).generate([make_unit('happy', i, bank, cfg) for i in range(50)])]
    noise = e.embed(noise)
    fd_halves, fd_noise = frechet_distance(real[::2], real[1::2]), frechet_distance(real[::2], noise)
    # 50 faces a side in 900 dimensions: FD's covariance term carries a sample-size bias (measured 0.12 vs 0.22),
    # so the gap shows in its mean term (0.0055 vs 0.10) and in the unbiased KID (-5e-7 vs 3.2e-4)
    assert fd_halves * 1.5 < fd_noise, (fd_halves, fd_noise)
    mean_gap = lambda a, b: float(((a.mean(0) - b.mean(0)) ** 2).sum())
    assert mean_gap(real[::2], real[1::2]) * 10 < mean_gap(real[::2], noise)
    kid_halves, kid_noise = kernel_distance(real[::2], real[1::2])[0], kernel_distance(real[::2], noise)[0]
    assert abs(kid_halves) * 100 < kid_noise, (kid_halves, kid_noise)

# ---------------------------------------------------------------- the quality block, SIGKILL resume
ARGS = ('--model_id', 'builtin:tiny', '--face_policy', 'off', '--target_total', 119, '--num_inference_steps', 3,
        '--gen_size', 128, '--batch_size', 2, '--progress', 'false', '--workers', 1)

@pytest.fixture(scope='module')
def demo_raw(tmp_path_factory): return make_demo_raw_root(tmp_path_factory.mktemp('raw')/'raw')

@pytest.mark.parametrize('embedder', ['hog', 'builtin:tiny-clip'])
def test_sigkill_resume_gives_identical_outputs_and_quality(embedder, demo_raw, tmp_path):
    args = lambda out: ('run', '--raw_root', demo_raw, '--out_dir', out, '--embedder', embedder, *ARGS)
    base = tmp_path/'base'
    r = facesynth(*args(base)); assert r.returncode == 0, r.stderr[-3000:]
    q = json.loads((base/'status.json').read_text())['quality']
    assert q['embedder'] == embedder and q['embedder_identity']['name'] == embedder
    assert q['drift']['overall']['n_synthetic'] == len(pd.read_csv(base/'synthetic_meta.csv'))
    assert f'FD_{embedder}' in q['drift']['overall'] and 'accuracy' in q['validator']
    assert q['drift']['reference']['n_original'] > 0 and q['drift']['reference'][f'FD_{embedder}'] is not None
    assert set(q['validator']['compared']) == {'embedding', 'cnn'} and q['validator']['kind'] in q['validator']['compared']
    st = json.loads((base/'status.json').read_text())
    assert {c['check']: c['ok'] for c in st['integrity']['checks']}['quality_counts']
    meta = pd.read_csv(base/'synthetic_meta.csv')
    assert {'label_prob', 'label_pred', 'semantic_duplicate_score', 'near_duplicate_score'} <= set(meta.columns)
    assert embedder in (base/'findings.html').read_text()
    out = tmp_path/'o'
    p = start_facesynth(*args(out))
    assert wait_for(lambda: (out/'journal.jsonl').exists(), p), 'the run ended before generating'
    kill_group(p)
    assert p.returncode == -signal.SIGKILL and not (out/'synthetic_meta.csv').exists()
    r = facesynth(*args(out)); assert r.returncode == 0, r.stderr[-3000:]
    no_torn_files(out)
    assert outputs(out) == outputs(base)
    q2 = json.loads((out/'status.json').read_text())['quality']
    assert q2['drift'] == q['drift'] and q2['counts'] == q['counts'] and q2['validator'] == q['validator']

# ---------------------------------------------------------------- extra coverage on the FER sample
def _labelled_faces()->tuple:
    "Images and labels a validator can learn: the FER sample's emotions, or lfw_subset's faces vs non-faces."
    if HAVE_FER:
        files = sorted(FER.glob('*/*'))
        return [Image.open(f).convert('RGB') for f in files], [f.parent.name for f in files]
    from skimage.data import lfw_subset
    lfw = (lfw_subset() * 255).round().astype(np.uint8)
    return [Image.fromarray(a).convert('RGB') for a in lfw], ['happy'] * 100 + ['neutral'] * 100


def test_fer_right_label_beats_wrong_label(tmp_path):
    "Faces held out of training score a higher P(label) under their own label than under a wrong one."
    from facesynth_nb.label_check import LabelValidator
    images, labels = _labelled_faces()
    X = HogEmbedder().embed(images)
    train = np.array([i % 5 != 0 for i in range(len(images))])
    v = LabelValidator(X[train], np.array(labels)[train])
    labs = sorted(set(labels))
    test = [i for i in range(len(images)) if not train[i]]
    right = np.mean([v.score(X[i], labels[i])['label_prob'] for i in test])
    wrong = np.mean([v.score(X[i], labs[(labs.index(labels[i]) + 3) % len(labs)])['label_prob'] for i in test])
    assert right > wrong, (right, wrong)
