"""Scan speed: `scan_raw_root` against the naive one-process loop on a few thousand 48x48 JPEG faces.

    .venv/bin/python benchmarks/bench_scan.py [--n 4200] [--workers 0]

Builds class folders of 48x48 grayscale JPEGs in a temp dir from the real FER2013 sample in
../shared/data/fer_sample (each file a blend of two real faces plus noise, so no two are alike and near
duplicates are as rare as in FER2013), or from scikit-image's LFW faces when the sample is absent. Prints
files/s of:
  - the naive loop: PIL decode, gray, sha1 of the pixels, imagehash.phash, one file at a time;
  - scan_raw_root cold (empty out_dir) and warm (the scan cache from the cold run);
  - both again as whole processes, interpreter start and imports included (what a CLI user waits for).
Wall-clock figures depend on what else the machine runs, so each line also gives files per CPU-second
(user + system time of the process and its workers), and the load average is printed before and after.
"""
import argparse, hashlib, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FER = ROOT.parent/'shared'/'data'/'fer_sample'
NAIVE = '''
import hashlib, sys, time, imagehash
from pathlib import Path
from PIL import Image
out = []
for p in sorted(Path(sys.argv[1]).rglob('*.jpg')):
    g = Image.open(p).convert('L')
    out.append((hashlib.sha1(g.tobytes()).hexdigest(), str(imagehash.phash(g))))
print(len(out))
'''
SCAN = '''
import sys
from facesynth_nb.config import RunConfig
from facesynth_nb.ingest import scan_raw_root
df = scan_raw_root(RunConfig(raw_root=sys.argv[1], out_dir=sys.argv[2], workers=int(sys.argv[3]), progress=False))
print(len(df))
'''


def faces():
    "Real 48x48 grayscale faces: the FER sample, else LFW crops from scikit-image."
    if FER.exists():
        return [(p.parent.name, np.asarray(Image.open(p).convert('L'))) for p in sorted(FER.rglob('*.jpg'))], 'FER2013 sample'
    from skimage import data
    labels = ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')
    lfw = data.lfw_subset()[:100]
    return [(labels[i % 7], np.asarray(Image.fromarray((f * 255).round().astype(np.uint8)).resize((48, 48), Image.BICUBIC)))
            for i, f in enumerate(lfw)], 'scikit-image LFW faces'


def build(root:Path, n:int)->str:
    """Write n distinct 48x48 JPEG faces: each blends two real faces (60/40, the second mirrored every other
    round) plus +-3 noise, so near duplicates are about as rare as in FER2013 (a few percent), not a clique
    per face as small pixel changes alone would make."""
    base, src = faces(); rng = np.random.default_rng(0); m = len(base)
    for k in range(n):
        i = k % m; j = (i + 1 + (k // m) * 7) % m
        second = base[j][1][:, ::-1] if (k // m) % 2 else base[j][1]
        a = 0.6 * base[i][1].astype(float) + 0.4 * second + rng.integers(-3, 4, (48, 48))
        (root/base[i][0]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(root/base[i][0]/f'img_{k:05d}.jpg', quality=90)
    return src


def naive(root:Path)->int:
    import imagehash
    n = 0
    for p in sorted(root.rglob('*.jpg')):
        g = Image.open(p).convert('L')
        hashlib.sha1(g.tobytes()).hexdigest(); str(imagehash.phash(g)); n += 1
    return n


def cpu()->float:
    "CPU seconds used so far by this process and its finished children."
    t = os.times(); return t.user + t.system + t.children_user + t.children_system


def timed(fn, *a):
    "(result, wall seconds, CPU seconds) of fn(*a)."
    c, t = cpu(), time.perf_counter(); r = fn(*a); return r, time.perf_counter() - t, cpu() - c


def run_py(code:str, *args)->tuple:
    "(wall seconds, CPU seconds) of a fresh Python process running `code`."
    c, t = cpu(), time.perf_counter()
    r = subprocess.run([sys.executable, '-c', code, *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if r.returncode: sys.exit(r.stderr)
    return time.perf_counter() - t, cpu() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=4200, help='JPEG files to scan')
    ap.add_argument('--workers', type=int, default=0, help='scan workers (0 = all cores)')
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from facesynth_nb.config import RunConfig
    from facesynth_nb.ingest import scan_raw_root
    from facesynth_nb.io import n_workers
    with tempfile.TemporaryDirectory() as td:
        td = Path(td); raw = td/'raw'; src = build(raw, a.n)
        cfg = RunConfig(raw_root=str(raw), out_dir=str(td/'out'), workers=a.workers, progress=False)
        print(f'{a.n} 48x48 JPEG files from the {src}; {n_workers(cfg.workers)} worker(s) on {os.cpu_count()} core(s)')
        naive(raw)                                            # warm the page cache and imports
        print(f'load average before: {os.getloadavg()[0]:.2f}')
        n, t_naive, c_naive = timed(naive, raw)
        _, t_cold, c_cold = timed(scan_raw_root, cfg)
        df, t_warm, c_warm = timed(scan_raw_root, cfg)
        assert len(df) == n == a.n, (len(df), n)
        print(f'{df.near_group.duplicated(keep=False).sum()} of the files are in near-duplicate groups (pHash distance <= 4)')
        line = lambda name, t, c, base: print(f'{name:48s} {n / t:7.0f} files/s  ({base / t:4.2f}x)   {n / c:7.0f} files per CPU-s')
        line('naive loop (PIL, gray, sha1, imagehash.phash):', t_naive, c_naive, t_naive)
        line('scan_raw_root, cold:', t_cold, c_cold, t_naive)
        line('scan_raw_root, warm cache:', t_warm, c_warm, t_naive)
        p_naive, pc_naive = run_py(NAIVE, raw)
        p_cold, pc_cold = run_py(SCAN, raw, td/'out2', a.workers)
        p_warm, pc_warm = run_py(SCAN, raw, td/'out2', a.workers)
        print('whole process, interpreter start and imports included:')
        pline = lambda name, t, c: print(f'  {name:20s} {t:6.2f} s {n / t:7.0f} files/s  ({p_naive / t:4.2f}x)   {c:5.2f} CPU-s')
        pline('naive loop:', p_naive, pc_naive); pline('scan, cold:', p_cold, pc_cold); pline('scan, warm cache:', p_warm, pc_warm)
        print(f'load average after: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__': main()
