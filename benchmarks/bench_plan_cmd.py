"""Scan, start to finish: the whole `facesynth plan` process against the naive one-process loop.

    .venv/bin/python benchmarks/bench_plan_cmd.py [--n 5900] [--repeat 5] [--workers 0]

Builds class folders of n distinct 48x48 grayscale JPEG faces in a temp dir (the FER2013 sample in
../shared/data/fer_sample blended and noised, or scikit-image's LFW faces when it is absent; see
bench_scan.py), then times, as fresh processes with interpreter start and imports included:
  - the naive loop: PIL decode, gray, sha1 of the pixels, imagehash.phash, one file at a time;
  - `facesynth plan --raw_root RAW --out_dir NEW` (cold: a new out_dir, nothing cached);
  - the same command again into the same out_dir (warm: the scan cache answers).
Runs alternate (naive, cold, warm) `repeat` times; the medians are printed with their ratio to the
naive loop, the CPU seconds each process used (its workers included: the load-independent figure),
and the load average before and after (wall-clock figures compare only on a quiet machine).
"""
import argparse, os, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import NAIVE, build   # the same files and the same naive loop as the scan benchmark

PLAN = 'from facesynth_nb.cli import _console; _console()'


def cpu()->float:
    "CPU seconds used by this process's finished children (and theirs: a plan's scan workers)."
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def run(args:list)->tuple:
    "(wall, CPU) seconds of a fresh Python process (the checkout's package: cwd is the repo root)."
    t, c = time.perf_counter(), cpu()
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
    dt, dc = time.perf_counter() - t, cpu() - c
    if r.returncode: sys.exit(f'{args} failed:\n{r.stderr[-3000:]}')
    return dt, dc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=5900, help='JPEG files to scan')
    ap.add_argument('--repeat', type=int, default=5, help='timed rounds (medians are reported)')
    ap.add_argument('--workers', type=int, default=0, help='scan workers (0 = all cores)')
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as td:
        td = Path(td); raw = td/'raw'; src = build(raw, a.n)
        plan = lambda out: ['-c', PLAN, 'plan', '--raw_root', str(raw), '--out_dir', str(out),
                            '--workers', str(a.workers), '--progress', 'false',
                            '--target_total', str(2 * a.n)]
        print(f'{a.n} 48x48 JPEGs from the {src}; {os.cpu_count()} core(s); '
              f'workers={a.workers or "all"}')
        run(['-c', NAIVE, str(raw)]); run(plan(td/'warmup'))            # page cache and .pyc files
        print(f'load average before: {os.getloadavg()[0]:.2f}')
        t, c = {'naive': [], 'cold': [], 'warm': []}, {'naive': [], 'cold': [], 'warm': []}
        for i in range(a.repeat):
            for k, args in (('naive', ['-c', NAIVE, str(raw)]), ('cold', plan(td/f'out{i}')),
                            ('warm', plan(td/f'out{i}'))):
                w, u = run(args); t[k].append(w); c[k].append(u)
        med = {k: statistics.median(v) for k, v in t.items()}
        cmed = {k: statistics.median(v) for k, v in c.items()}
        names = {'naive': 'naive loop (PIL, gray, sha1, imagehash.phash)',
                 'cold': 'facesynth plan, new out_dir',
                 'warm': 'facesynth plan, rerun (scan cache)'}
        for k in t:
            runs = ', '.join(f'{x:.2f}' for x in t[k])
            print(f'  {names[k]:46s} {med[k]:6.2f} s  {a.n / med[k]:6.0f} files/s  '
                  f'{med["naive"] / med[k]:4.2f}x the naive loop  {cmed[k]:5.2f} CPU-s  '
                  f'(runs: {runs})')
        print(f'load average after: {os.getloadavg()[0]:.2f}')


if __name__ == '__main__': main()
