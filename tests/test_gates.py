"Gates, post-processing and the near-duplicate index from the outside: real faces, worker processes, bad inputs."
import io, pickle, random
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageFilter, ImageOps
from skimage import data as skdata

from facesynth_nb.config import RunConfig, ConfigError, CheckFailed
from facesynth_nb.gates import measure, decide, reasons
from facesynth_nb.hashindex import NearDupIndex, phash_int, phash_hex, near_duplicate_groups, brute_force_query
from facesynth_nb.post import save_exported, read_provenance, check_exported

from conftest import FER   # the FER sample, or real faces in its layout (never skipped)
CFG = RunConfig(face_detector='haar_alt2')
ASTRO = Image.fromarray(skdata.astronaut())


def jpeg(im, q=70):
    buf = io.BytesIO(); im.save(buf, 'JPEG', quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert('RGB')


@pytest.fixture(scope='module')
def index():
    "An index holding the astronaut's pHash as an original would be stored by ingest (hex string)."
    ix = NearDupIndex(CFG.hash_dist_max, CFG.phash_size ** 2)
    ix.add('astronaut.png', str(imagehash.phash(ASTRO.convert('L'), hash_size=CFG.phash_size)))
    return ix


def test_two_face_collage_rejected_by_single(index):
    face = ASTRO.crop((140, 10, 340, 210))
    collage = Image.new('RGB', (512, 512), (128, 128, 128)); collage.paste(face, (30, 150)); collage.paste(face, (280, 150))
    s = measure(collage, CFG)
    assert s['face_count'] == 2
    assert decide(s, index, CFG)['reason'] == 'face'
    assert decide(s, index, CFG.updated(face_policy='any'))['reason'] == ''


def test_blurred_face_rejected_by_blur(index):
    head = ASTRO.crop((100, 0, 356, 256))
    sharp = measure(head, CFG)
    assert sharp['blur_var'] >= CFG.blur_var_min and decide(sharp, index, CFG)['reason'] == ''
    s = measure(head.filter(ImageFilter.GaussianBlur(2)), CFG)
    assert s['face_count'] == 1 and s['blur_var'] < CFG.blur_var_min
    assert decide(s, index, CFG)['reason'] == 'blur'
    assert decide(s, index, CFG.updated(blur_var_min=1.0))['reason'] == ''   # the threshold comes from the config


@pytest.mark.parametrize('copy', [lambda im: jpeg(im, 70), lambda im: jpeg(im, 40),
                                  lambda im: im.rotate(0, translate=(2, 0)), lambda im: im.rotate(0, translate=(0, -2))])
def test_reencoded_or_shifted_copy_is_near_duplicate(index, copy):
    d = decide(measure(copy(ASTRO), CFG), index, CFG)
    reason, nid, nd = d['reason'], d['nearest_id'], d['nearest_dist']
    assert (reason, nid) == ('near_duplicate', 'astronaut.png') and 0 <= nd <= CFG.hash_dist_max


def test_accepted_hash_blocks_later_copies():
    "The caller adds accepted hashes; a later copy of an accepted synthetic image is then a near-duplicate."
    ix = NearDupIndex(CFG.hash_dist_max)
    s = measure(ASTRO, CFG)
    d = decide(s, ix, CFG)
    assert (d['reason'], d['nearest_id'], d['nearest_dist']) == ('', '', None)
    ix.add('happy-000000', s['phash'])
    d = decide(measure(jpeg(ASTRO), CFG), ix, CFG)
    assert (d['reason'], d['nearest_id']) == ('near_duplicate', 'happy-000000')


def test_noise_has_no_face_and_exports_are_exact():
    rng = np.random.default_rng(1)
    for i in range(5):
        im = Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))
        s = measure(im, CFG)
        assert s['face_count'] == 0 and s['face_box'] == ''
        assert (s['exported'].mode, s['exported'].size) == ('L', (224, 224))
        assert decide(s, NearDupIndex(4), CFG)['reason'] == 'face'


def test_lfw_faces_and_nonfaces():
    lfw = skdata.lfw_subset()
    to_im = lambda x: Image.fromarray((x * 255).astype(np.uint8))
    faces = sum(measure(to_im(x), CFG)['face_count'] == 1 for x in lfw[:100])
    nonfaces = sum(measure(to_im(x), CFG)['face_count'] > 0 for x in lfw[100:])
    assert faces >= 90 and nonfaces == 0, (faces, nonfaces)


def test_fer_faces_through_the_chain():
    files = sorted(FER.glob('*/*.jpg'))
    ix, got = NearDupIndex(CFG.hash_dist_max), []
    cfg = CFG.updated(crop_faces=True)
    for i, f in enumerate(files):
        s = measure(Image.open(f), cfg)
        assert (s['exported'].mode, s['exported'].size) == ('L', (224, 224))
        assert (s['cropped'] is None) == (not s['face_count'])
        if s['cropped'] is not None: assert (s['cropped'].mode, s['cropped'].size) == ('L', (224, 224))
        r = decide(s, ix, cfg)['reason']
        got.append(r)
        assert r in ('',) + reasons()
        if not r: ix.add(f.name, s['phash'])
    assert got.count('face') <= 0.4 * len(files)            # the detector finds most FER faces
    assert got.count('blur') >= 0.5 * len(files)            # 48 px faces enlarged to 224 are soft


def test_index_equals_brute_force_on_fer_hashes():
    files = sorted(FER.glob('*/*.jpg'))
    hs = [phash_int(imagehash.phash(Image.open(f).convert('L'))) for f in files]
    rng = random.Random(3)
    near = [h ^ sum(1 << b for b in rng.sample(range(64), rng.randint(0, 6))) for h in hs]
    ids = [f.name for f in files] + [f'near{i}' for i in range(len(near))]
    allh = hs + near
    ix = NearDupIndex(4); ix.add_many(ids, [phash_hex(h) for h in allh])
    assert ix.query_many(allh) == [brute_force_query(ids, allh, h, 4) for h in allh]
    groups = near_duplicate_groups(ids, [phash_hex(h) for h in allh], 4)
    for i in range(len(hs)):
        if (hs[i] ^ near[i]).bit_count() <= 4: assert groups[i] == groups[len(hs) + i]


def test_measure_runs_in_a_spawned_process_pool():
    ims = [ASTRO, ASTRO.filter(ImageFilter.GaussianBlur(4)), Image.new('RGB', (300, 200), (9, 9, 9))]
    pickle.dumps((measure, CFG))
    with ProcessPoolExecutor(2, mp_context=get_context('spawn')) as ex:
        remote = list(ex.map(measure, ims, [CFG] * len(ims)))
    local = [measure(im, CFG) for im in ims]
    for r, l in zip(remote, local):
        assert {k: r[k] for k in ('face_count', 'face_box', 'blur_var', 'phash')} == \
               {k: l[k] for k in ('face_count', 'face_box', 'blur_var', 'phash')}
        assert r['exported'].tobytes() == l['exported'].tobytes()


def test_bad_inputs():
    with pytest.raises(ConfigError, match="face_detector='nope'"): measure(ASTRO, CFG.updated(face_detector='nope'))
    with pytest.raises(ValueError, match='exact only up to max_dist'):
        decide(measure(ASTRO, CFG), NearDupIndex(2), CFG)          # index narrower than hash_dist_max
    with pytest.raises(ValueError, match="longer than the index's 64 bits"):
        decide(measure(ASTRO, CFG.updated(phash_size=16)), NearDupIndex(4), CFG)
    with pytest.raises(TypeError, match='cannot read a hash'): phash_int(1.5)


def test_written_file_is_traceable(tmp_path):
    s = measure(ASTRO, CFG)
    rec = dict(prompt='a photo of a face', negative_prompt='blurry', seed=7, steps=30, scheduler='DDIM',
               guidance=7.5, gen_width=512, gen_height=512, model_id='m', unit_id='happy-000001')
    p = save_exported(s['exported'], tmp_path/'synthetic'/'happy'/'happy-000001.png', rec, CFG)
    prov = read_provenance(p)
    assert (prov['prompt'], prov['Seed'], prov['Sampler'], prov['record']['unit_id']) == ('a photo of a face', '7', 'DDIM', 'happy-000001')
    assert check_exported([p], CFG) == 1
    with pytest.raises(CheckFailed, match='mode RGB'): save_exported(ASTRO, tmp_path/'bad.png', rec, CFG)
    with pytest.raises(CheckFailed, match='not 128x128'): check_exported([p], CFG.updated(image_size=128))


def test_fer_through_the_folder_generator(tmp_path):
    "FER faces as candidates of the `folder:` generator, gated in unit order, written with their provenance."
    from facesynth_nb.generators import get_generator, WorkUnit
    cfg = CFG.updated(model_id=f'folder:{FER}', blur_var_min=0.0)
    units = [WorkUnit('happy', i, seed=i, prompt='a happy face') for i in range(31)]
    cands = get_generator(cfg).generate(units)
    assert cands[-1].record['exhausted'] and cands[-1].image is None          # 30 happy faces in the sample
    ix, reasons = NearDupIndex(cfg.hash_dist_max), []
    for c in cands[:-1]:
        s = measure(c.image, cfg)
        r = decide(s, ix, cfg)['reason']
        reasons.append(r)
        if r: continue
        ix.add(c.unit.unit_id, s['phash'])
        p = save_exported(s['exported'], tmp_path/f'{c.unit.unit_id}.png', {**c.record, 'prompt': c.unit.prompt, 'seed': c.unit.seed}, cfg)
        assert read_provenance(p)['Source'] == c.record['source_path']
    assert reasons.count('') >= 18 and set(reasons) <= {'', 'face', 'near_duplicate'}, reasons
    assert check_exported(sorted(tmp_path.glob('*.png')), cfg) == reasons.count('')


# ---------------------------------------------------------------- the gate registry
def test_gate_defaults_are_runconfig_defaults():
    "One source of truth: every gate's defaults are the RunConfig field defaults, and a config overrides them."
    from facesynth_nb.gates import GATES
    base = RunConfig()
    for g in GATES.values():
        assert g.defaults == {k: getattr(base, k) for k in g.fields}, g.name
        assert g.column == f'{g.name}_score'
    assert GATES['blur'].params(base.updated(blur_var_min=5.0)) == {'blur_var_min': 5.0}


def test_every_failing_gate_is_recorded():
    "A blurred two-face collage fails face and blur; `reason` is the first, `reject_reasons` has both."
    face = ASTRO.crop((140, 10, 340, 210))
    collage = Image.new('RGB', (512, 512), (128, 128, 128)); collage.paste(face, (30, 150)); collage.paste(face, (280, 150))
    s = measure(collage.filter(ImageFilter.GaussianBlur(6)), CFG.updated(face_policy='any'))
    d = decide({**s, 'face_count': 2}, NearDupIndex(4), CFG)
    assert (d['reason'], d['reject_reasons']) == ('face', ['face', 'blur'])


def test_a_mirrored_copy_is_a_near_duplicate(index):
    d = decide(measure(ImageOps.mirror(ASTRO), CFG), index, CFG)
    assert (d['reason'], d['nearest_id']) == ('near_duplicate', 'astronaut.png')


def test_adding_a_gate_is_one_registry_entry(tmp_path, monkeypatch):
    """A new gate added only to GATES (one definition) is measured in the gate workers, scored, recorded, counted,
    colored, described with its rule, and plotted everywhere."""
    from facesynth_nb import gates
    from facesynth_nb.config import config_to_dict
    from facesynth_nb.diagnose import reason_colors, reject_overlaps, load_run, gate_summary, plot_gate_scores
    from facesynth_nb.report import gate_rules_md
    from facesynth_nb.loop import synthesize, load_decisions, gate_counts
    from facesynth_nb.prompts import load_prompt_bank
    import json, pandas as pd
    odd = gates.Gate('odd_hash', ('phash_size',), lambda s, ctx, cfg, label: {'odd_hash_score': s['gray_sum'] % 2},
                     lambda v, p, c: v == 0, rule=lambda p, c: 'an even sum of gray levels', digits=0,
                     measure=lambda m, cfg: {'gray_sum': int(np.asarray(m.egray, np.int64).sum())},
                     axis='gray-level sum, modulo 2')
    monkeypatch.setitem(gates.GATES, 'odd_hash', odd)
    faces = [Image.fromarray(a).convert('RGB').resize((128, 128)) for a in (skdata.lfw_subset()[:40] * 255).astype('uint8')]
    for i, im in enumerate(faces[:10]): (tmp_path/'raw'/'happy').mkdir(parents=True, exist_ok=True); im.save(tmp_path/'raw'/'happy'/f'{i}.png')
    for i, im in enumerate(faces[10:40]): (tmp_path/'c'/'happy').mkdir(parents=True, exist_ok=True); im.save(tmp_path/'c'/'happy'/f'{i}.png')
    cfg = RunConfig(raw_root=str(tmp_path/'raw'), out_dir=str(tmp_path/'o'), model_id=f'folder:{tmp_path/"c"}',
                    face_policy='off', blur_var_min=0.0, workers=1, progress=False, label_policy='off')
    from facesynth_nb.ingest import scan_raw_root
    plan = pd.DataFrame({'planned': [30], 'max_candidates': [30]}, index=pd.Index(['happy'], name='label'))
    table = synthesize(scan_raw_root(cfg), plan, load_prompt_bank(cfg), cfg)
    recs = load_decisions(cfg.out)
    odd_recs = [r for r in recs if r['odd_hash_score'] == 1]
    assert odd_recs and all('odd_hash' in r['reject_reasons'] and r['status'] == 'rejected' for r in odd_recs)
    assert 'odd_hash_score' in table.columns and (table.odd_hash_score == 0).all()
    assert 'odd_hash' in gates.reasons() and 'odd_hash' in reason_colors()
    assert gate_counts(recs, 'odd_hash')['failed'] == len(odd_recs)
    (cfg.out/'status.json').write_text(json.dumps(dict(config=config_to_dict(cfg))))
    (cfg.out/'run.json').write_text(json.dumps(dict(config=config_to_dict(cfg))))   # the run's settings
    run = load_run(cfg.out)
    assert reject_overlaps(run).loc['odd_hash', 'odd_hash'] == len(odd_recs)
    assert 'odd_hash_score' in gate_summary(run).index
    assert '**odd_hash**' in gate_rules_md(run) and 'an even sum of gray levels' in gate_rules_md(run)
    gs, png = plot_gate_scores(run)
    assert gs.loc['odd_hash_score', 'rule'] == 'an even sum of gray levels' and gs.loc['odd_hash_score', 'n'] == len(recs)
    with Image.open(png) as im: w4 = im.width                       # one panel per scored gate: blur, pHash, odd
    monkeypatch.delitem(gates.GATES, 'odd_hash')
    with Image.open(plot_gate_scores(run)[1]) as im: assert im.width < w4
