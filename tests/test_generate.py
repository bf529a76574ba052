"""The generation stage from the outside: determinism across processes, batches and order; loading errors;
local folders; pickle refusal; folder: with real faces; cheap import."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import numpy as np, pytest
from PIL import Image
import imagehash
from facesynth_nb.config import RunConfig, InputError, ConfigError
from facesynth_nb.generators import (WorkUnit, Candidate, RECORD_KEYS, get_generator, tiny_model_folder, weights_hash,
                                   quiet_loading, TINY_GEN_SIZE)

ROOT = Path(__file__).resolve().parents[1]
from conftest import FER, HANG_S   # the FER sample, or real faces in its layout (never skipped)
PY = sys.executable

def units(label, idxs, seed=20250924):
    ss = lambda i: int(np.random.SeedSequence([seed, len(label), i]).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
    return [WorkUnit(label, i, ss(i), f'a photo of a {label} face', 'blurry') for i in idxs]

def same_image(a, b):
    "pHash distance 0 and pixels within one uint8 level."
    d = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max()
    return imagehash.phash(a) - imagehash.phash(b) == 0 and d <= 1

def run_py(code, env=None, cwd=ROOT):
    return subprocess.run([PY, '-c', textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=HANG_S)

@pytest.fixture(scope='module')
def cfg(): return RunConfig(model_id='builtin:tiny', num_inference_steps=3, device='cpu', progress=False)

@pytest.fixture(scope='module')
def tiny(cfg):
    g = get_generator(cfg); yield g; g.close()

def test_import_is_cheap():
    r = run_py("""
        import sys, facesynth_nb.generators
        heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]
        print(heavy)""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]'

def test_same_image_across_processes_batches_and_order(tiny, tmp_path):
    us = units('surprise', [3, 7, 11, 12])
    # another process: all four in one batch, written as PNG (lossless)
    r = run_py(f"""
        import numpy as np
        from facesynth_nb.config import RunConfig
        from facesynth_nb.generators import get_generator, WorkUnit
        us = [WorkUnit(*a) for a in {[(u.label, u.index, u.seed, u.prompt, u.negative_prompt) for u in us]!r}]
        g = get_generator(RunConfig(model_id='builtin:tiny', num_inference_steps=3, device='cpu', batch_size=4))
        for c in g.generate(us): c.image.save(r'{tmp_path}/' + c.unit.unit_id + '.png')""")
    assert r.returncode == 0, r.stderr[-2000:]
    # this process: one at a time, in reverse order
    tiny.batch_size = 1
    here = {c.unit.unit_id: c.image for u in reversed(us) for c in tiny.generate([u])}
    for u in us:
        other = Image.open(tmp_path/f'{u.unit_id}.png').convert('RGB')
        assert same_image(here[u.unit_id], other), u.unit_id
    # and different units give different images
    assert imagehash.phash(here[us[0].unit_id]) - imagehash.phash(here[us[1].unit_id]) > 4

def test_any_number_of_units_in_order(tiny):
    tiny.batch_size = 2
    us = units('happy', [0, 1]) + units('sad', [0, 1, 2])
    out = tiny.generate(us)
    assert [c.unit.unit_id for c in out] == ['happy-000000', 'happy-000001', 'sad-000000', 'sad-000001', 'sad-000002']
    assert all(isinstance(c, Candidate) and c.image.size == (TINY_GEN_SIZE,) * 2 for c in out)
    assert all(tuple(c.record) == RECORD_KEYS for c in out)
    assert tiny.generate([]) == []
    json.dumps([c.record for c in out])   # records are JSON-ready

def test_hub_id_offline_is_a_clear_error(tmp_path):
    code = """
        from facesynth_nb.config import RunConfig, FacesynthError
        from facesynth_nb.generators import get_generator
        try: get_generator(RunConfig(model_id='stable-diffusion-v1-5/stable-diffusion-v1-5', device='cpu'))
        except FacesynthError as e: print(type(e).__name__, e.exit_code, e)
        else: print('LOADED')"""
    r = run_py(code, env=dict(HF_HUB_OFFLINE='1', HF_HOME=str(tmp_path/'hf')))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith('InputError 2'), r.stdout
    for s in ('hf download stable-diffusion-v1-5/stable-diffusion-v1-5', 'huggingface-cli download', 'local folder', 'HF_HUB_OFFLINE'):
        assert s in r.stdout, s

def test_hub_id_without_network_is_a_clear_error(tmp_path):
    "No HF_HUB_OFFLINE: the cache misses, the download is tried and fails (no network here; no such repo anywhere)."
    r = run_py("""
        from facesynth_nb.config import RunConfig, FacesynthError
        from facesynth_nb.generators import get_generator
        try: get_generator(RunConfig(model_id='facesynth-nb/no-such-model-for-tests', device='cpu'))
        except FacesynthError as e: print(type(e).__name__, e)""", env=dict(HF_HOME=str(tmp_path/'hf'), HF_HUB_ETAG_TIMEOUT='5',
                                                                         HF_HUB_DOWNLOAD_TIMEOUT='5'))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith('InputError') and 'hf download facesynth-nb/no-such-model-for-tests' in r.stdout, r.stdout

def test_local_folder_saved_with_save_pretrained(tiny, cfg, tmp_path):
    folder = tmp_path/'my model'
    with quiet_loading(): tiny.pipe.save_pretrained(str(folder))
    us = units('angry', [0, 1])
    tiny.batch_size = 2
    ref = tiny.generate(us)
    with get_generator(cfg.updated(model_id=str(folder), gen_size=TINY_GEN_SIZE, scheduler='DDIMScheduler')) as g:
        out = g.generate(us)
        assert g.describe()['scheduler'] == 'DDIMScheduler'
    r = out[0].record
    assert (r['model_id'], r['model_revision'], r['scheduler'], r['gen_width']) == (str(folder), weights_hash(folder), 'DDIMScheduler', 128)
    # another scheduler, another image; the same weights decide the texture, so the blur gate still passes
    assert imagehash.phash(out[0].image) - imagehash.phash(ref[0].image) > 0
    with get_generator(cfg.updated(model_id=str(folder), gen_size=TINY_GEN_SIZE)) as g:
        assert all(same_image(a.image, b.image) for a, b in zip(g.generate(us), ref))

def test_pickle_only_folder_is_refused(tiny, cfg, tmp_path):
    folder = tmp_path/'pickled'
    with quiet_loading(): tiny.pipe.save_pretrained(str(folder), safe_serialization=False)
    for comp in ('unet', 'vae'): assert not list((folder/comp).glob('*.safetensors'))
    with pytest.raises(InputError, match='allow_pickle=True') as e: get_generator(cfg.updated(model_id=str(folder)))
    assert 'unet/diffusion_pytorch_model.bin' in str(e.value)
    with get_generator(cfg.updated(model_id=str(folder), allow_pickle=True, gen_size=TINY_GEN_SIZE)) as g:
        assert g.generate(units('fear', [0]))[0].image.size == (128, 128)

def test_bad_settings_fail_before_loading(cfg):
    with pytest.raises(ConfigError, match='scheduler'): get_generator(cfg.updated(scheduler='FastScheduler'))
    with pytest.raises(ConfigError, match='float16'): get_generator(cfg.updated(dtype='float16'))
    with pytest.raises(ConfigError, match='unknown built-in'): get_generator(cfg.updated(model_id='builtin:sd99'))
    with pytest.raises(InputError, match='neither an existing folder'): get_generator(cfg.updated(model_id='./no/such/dir/x'))
    with pytest.raises(InputError, match='pickle'): get_generator(cfg.updated(model_id='v1-5-pruned-emaonly.ckpt'))

def test_tiny_cache_is_reused(cfg):
    a = tiny_model_folder(); b = tiny_model_folder()
    assert a == b and (a/'model_index.json').is_file()
    assert sum(p.stat().st_size for p in a.rglob('*') if p.is_file()) < 10e6

def test_folder_generator_on_real_faces():
    g = get_generator(RunConfig(model_id=f'folder:{FER}'))
    files = sorted(p.name for p in (FER/'happy').iterdir() if p.suffix.lower() in ('.jpg', '.png', '.jpeg', '.webp'))
    n = len(files)
    out = g.generate([WorkUnit('happy', i, 0, '') for i in (0, 1, n - 1, n)] + [WorkUnit('no_such_label', 0, 0, '')])
    assert [Path(c.record['source_path']).name for c in out[:3]] == [files[0], files[1], files[-1]]
    assert all(c.image.mode == 'RGB' and c.image.size == (48, 48) for c in out[:3])
    assert [c.record['exhausted'] for c in out] == [False, False, False, True, True]
    assert out[3].image is None and out[3].record['source_path'] == ''
    # the source file is read as is: same pixels (FER is grayscale; RGB has three equal channels)
    src = np.asarray(Image.open(FER/'happy'/files[0]).convert('L'))
    assert np.array_equal(np.asarray(out[0].image)[..., 0], src)
