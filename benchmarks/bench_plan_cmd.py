"""Scan, start to finish: the whole `facesynth plan` process against the naive one-process loop process.

    .venv/bin/python benchmarks/bench_plan_cmd.py [--n 5900] [--repeat 5] [--workers 0]

Builds class folders of n distinct 48x48 grayscale JPEG faces in a temp dir (the FER2013 sample in
../shared/data/fer_sample blended and noised, or scikit-image's LFW faces when it is absent; see
bench_scan.py), then times, as fresh processes with interpreter start and imports included:
  - the naive loop: PIL decode, gray, sha1 of the pixels, imagehash.phash, one file at a time;
  - `facesynth plan --raw_root RAW --out_dir NEW` (cold: a new out_dir, nothing cached);
  - the same command again into the same out_dir (warm: the scan cache answers).
Runs alternate (naive, cold, warm) `repeat` times; the medians are printed with their ratio to the naive
loop, and the load average before and after (the figures are only comparable on a quiet machine).
"""
import argparse, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import NAIVE, build   # the same files and the same naive loop as the scan benchmark

PLAN = 'from facesynth_nb.cli import _console; _console()'


def run(args:list)->float:
    "Wall seconds of a fresh Python process (the checkout's package: cwd is the repository root)."
    t = time.perf_counter()
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
    dt = time.perf_counter() - t
    if r.returncode: sys.exit(f'{args} failed:\n{r.stderr[-3000:]}')
    return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=5900, help='JPEG files to scan')
    ap.add_argument('--repeat', type=int, default=5, help='timed rounds (medians are reported)')
    ap.add_argument('--workers', type=int, default=0, help='scan workers (0 = all cores)')
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        td = Path(td); raw = td/'raw'; src = build(raw, a.n)
        plan = lambda out: ['-c', PLAN, 'plan', '--raw_root', str(raw), '--out_dir', str(out), '--workers',
                            str(a.workers), '--progress', 'false', '--target_total', str(2 * a.n)]
        print(f'{a.n} 48x48 JPEG files from the {src}; {os.cpu_count()} core(s); workers={a.workers or "all"}')
        run(['-c', NAIVE, str(raw)]); run(plan(td/'warmup'))            # page cache and .pyc files
        print(f'load average before: {os.getloadavg()[0]:.2f}')
        t = {'naive': [], 'cold': [], 'warm': []}
        for i in range(a.repeat):
            t['naive'].append(run(['-c', NAIVE, str(raw)]))
            t['cold'].append(run(plan(td/f'out{i}')))
            t['warm'].append(run(plan(td/f'out{i}')))
        med = {k: statistics.median(v) for k, v in t.items()}
        names = {'naive': 'naive loop (PIL, gray, sha1, imagehash.phash)', 'cold': 'facesynth plan, new out_dir',
                 'warm': 'facesynth plan, rerun (scan cache)'}
        for k in t:
            print(f'  {names[k]:46s} {med[k]:6.2f} s  {a.n / med[k]:6.0f} files/s  {med["naive"] / med[k]:4.2f}x the naive loop'
                  f'   (runs: {", ".join(f"{x:.2f}" for x in t[k])})')
        print(f'load average after: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__': main()
