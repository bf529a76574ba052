"Shared fixtures for the cross-stage tests: paths, the FER sample, and a `facesynth` runner."
import os, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FER = ROOT.parent/'shared'/'data'/'fer_sample'
FACESYNTH = Path(sys.executable).with_name('facesynth')

needs_fer = pytest.mark.skipif(not FER.is_dir(), reason=f'the FER2013 sample is not at {FER} (team-only data)')

def facesynth(*args, check=False, timeout=600, **kw):
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

def wait_for(pred, proc, timeout=300, poll=0.005):
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
    proc.communicate(timeout=120)

@pytest.fixture
def fer(): 
    if not FER.is_dir(): pytest.skip(f'the FER2013 sample is not at {FER} (team-only data)')
    return FER
