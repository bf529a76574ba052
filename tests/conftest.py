"""Shared fixtures for the cross-stage tests: paths, real faces, a real small run, and a `facesynth` runner.

Every test passes from the project alone. The team's FER2013 sample (`../shared/data/fer_sample`, or
`$FACESYNTH_SHARED/data/fer_sample`) adds coverage when it is there; without it `FER` is a folder of
real faces from scikit-image in the same layout (7 emotion folders of 48x48 grayscale JPEGs), made once
per session. Set `FACESYNTH_SHARED=/nonexistent` to run the suite as someone outside the team would.
"""
import atexit, os, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FACESYNTH = Path(sys.executable).with_name('facesynth')
EMOTIONS = ('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise')


def shared_dir()->Path:
    "The team's shared folder: $FACESYNTH_SHARED, else ../shared beside the checkout (may be absent)."
    return Path(os.environ.get('FACESYNTH_SHARED') or ROOT.parent/'shared')


def make_fer_like(root:Path)->Path:
    """Real faces in the FER sample's layout and size: 30 48x48 JPEGs per emotion, 210 in all. scikit-image's
    100 lfw faces and their mirror images (pHash distance >= 26 from the original, >= 10 between any two)
    fill happy and neutral with 30 faces and the other classes with 28, plus 2 of lfw_subset's non-face patches."""
    from skimage.data import lfw_subset
    lfw = (lfw_subset() * 255).round().astype(np.uint8)
    faces, nonfaces = list(lfw[:100]) + [f[:, ::-1] for f in lfw[:100]], list(lfw[100:110])
    for label in EMOTIONS:
        n = 30 if label in ('happy', 'neutral') else 28
        imgs = [faces.pop(0) for _ in range(n)] + [nonfaces.pop(0) for _ in range(30 - n)]
        (root/label).mkdir(parents=True, exist_ok=True)
        for i, a in enumerate(imgs):
            Image.fromarray(a).resize((48, 48), Image.BICUBIC).save(root/label/f'{label}_{i:03d}.jpg', quality=95)
    return root


def _faces_dir()->Path:
    real = shared_dir()/'data'/'fer_sample'
    if real.is_dir(): return real
    tmp = Path(tempfile.mkdtemp(prefix='facesynth-faces-'))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    return make_fer_like(tmp/'fer_like')


FER = _faces_dir()                          # real faces in FER layout: the FER sample, or scikit-image's
HAVE_FER = FER == shared_dir()/'data'/'fer_sample'
@pytest.fixture
def fer():
    "Real 48x48 faces in FER layout (the FER sample when present)."
    return FER


# A guard against a hung process, never a speed test: CI may run on a loaded machine (timing is no criterion).
HANG_S = 3600


def facesynth(*args, check=False, timeout=HANG_S, **kw):
    "Run the `facesynth` console script; return the CompletedProcess (text output)."
    env = {**os.environ, 'PYTHONHASHSEED': '0', 'MPLBACKEND': 'Agg', 'HF_HUB_OFFLINE': '1'}
    r = subprocess.run([str(FACESYNTH), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, **kw)
    if check and r.returncode != 0: raise AssertionError(f'facesynth {args} -> {r.returncode}\n{r.stdout}\n{r.stderr}')
    return r


def start_facesynth(*args):
    "Start `facesynth` in the background (its own process group); return the Popen."
    env = {**os.environ, 'PYTHONHASHSEED': '0', 'MPLBACKEND': 'Agg', 'HF_HUB_OFFLINE': '1'}
    return subprocess.Popen([str(FACESYNTH), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def wait_for(pred, proc, timeout=HANG_S, poll=0.005):
    "Poll `pred()` until true; False when `proc` ended first or time ran out."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred(): return True
        if proc.poll() is not None: return bool(pred())
        time.sleep(poll)
    return False


def kill_group(proc, sig=signal.SIGKILL):
    "Send `sig` to the whole process group of `proc` (the run and its worker processes), then reap it."
    try: os.killpg(proc.pid, sig)
    except ProcessLookupError: pass
    proc.communicate(timeout=HANG_S)


def small_run_config(root:Path, **kw):
    "A fast, real run: the demo faces, builtin:tiny (face gate off), 3 synthetic images per class, a mirror."
    from facesynth_nb.config import RunConfig
    from facesynth_nb.pipeline import make_demo_raw_root
    raw = make_demo_raw_root(root/'raw')
    (raw/'happy'/'broken.png').write_bytes(b'not an image')             # quarantined, the run goes on
    base = dict(raw_root=str(raw), out_dir=str(root/'out'), mirror_root=str(root/'mirror'), model_id='builtin:tiny',
                face_policy='off', target_total=154, synthetic_cap=0.2, blur_var_min=190.0, num_inference_steps=2,
                progress=False, workers=1)
    return RunConfig(**{**base, **kw})


@pytest.fixture(scope='session')
def small_run(tmp_path_factory):
    """A real run made by the pipeline (never changed by tests: copy it first): 101 demo faces in 7 classes and
    one broken file (quarantined), 21 synthetic images, blur rejects (blur_var_min 190 on builtin:tiny's noise),
    the cap binding (synthetic_cap 0.2), a mirror. Returns (cfg, RunResult)."""
    from facesynth_nb.pipeline import run_pipeline
    cfg = small_run_config(tmp_path_factory.mktemp('small_run'))
    res = run_pipeline(cfg, demo=True)
    assert res.ok, [c for c in res.checks if not c['ok']]
    return cfg, res
