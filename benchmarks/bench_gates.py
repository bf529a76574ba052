"""Benchmark of the quality gates and the near-duplicate index.

Run: .venv/bin/python benchmarks/bench_gates.py  [--quick]

1. The gate chain (`gates.measure`) on 512x512 RGB candidates: images/s on one core, the share of each
   part (face detection, post = convert + resize, blur, pHash), and images/s with a 2-process pool.
2. `NearDupIndex` at 10k / 30k / 120k 64-bit hashes (a third of them planted near-copies) against brute
   force (numpy popcount over every stored hash) in the same run: times and equality of the answers.
"""
import os, random, sys, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np
from PIL import Image, ImageOps
from skimage import data as skdata

from facesynth_nb.config import RunConfig
from facesynth_nb.gates import measure, get_detector, init_worker, to_mode, to_export, laplacian_var
from facesynth_nb.hashindex import phash_of
from facesynth_nb.hashindex import NearDupIndex

QUICK = '--quick' in sys.argv
CFG = RunConfig(face_detector='haar_alt2')


def candidates(n:int)->list:
    "n 512x512 RGB candidates: jittered astronaut crops (faces), natural non-face images, smooth noise."
    rng = np.random.default_rng(0)
    astro = Image.fromarray(skdata.astronaut())
    natural = [Image.fromarray(getattr(skdata, k)()).convert('RGB') for k in ('chelsea', 'coffee', 'rocket', 'immunohistochemistry')]
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            x, y = rng.integers(0, 120, 2); im = astro.crop((x, y, x + 392, y + 392))
            im = ImageOps.mirror(im) if i % 2 else im
        elif kind == 1: im = ImageOps.fit(natural[i % len(natural)], (512, 512))
        else: im = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).resize((512, 512), Image.BICUBIC)
        out.append(im.resize((512, 512), Image.BICUBIC).convert('RGB'))
    return out


def bench_chain(n:int):
    ims = candidates(n)
    init_worker(CFG.face_detector)                             # one OpenCV thread, cascade loaded: as a worker
    t0, c0 = time.perf_counter(), time.process_time()
    res = [measure(im, CFG) for im in ims]
    chain, cpu = time.perf_counter() - t0, time.process_time() - c0
    det = get_detector(CFG.face_detector)
    parts = dict(face=0.0, post=0.0, blur=0.0, phash=0.0)
    for im in ims:                                              # the same steps as measure, timed one by one
        t = time.perf_counter(); g = to_mode(im, 'L'); det.detect(np.asarray(g)); parts['face'] += time.perf_counter() - t
        t = time.perf_counter(); e = to_export(g, CFG.image_size, 'L'); parts['post'] += time.perf_counter() - t
        t = time.perf_counter(); laplacian_var(e); parts['blur'] += time.perf_counter() - t
        t = time.perf_counter(); phash_of(e, CFG.phash_size); parts['phash'] += time.perf_counter() - t
    tot = sum(parts.values())
    print(f'## gate chain: {n} candidates 512x512 RGB -> 224x224 L, detector {CFG.face_detector}')
    print(f'one core (1 OpenCV thread): {1000 * chain / n:.1f} ms/image wall = {n / chain:.1f} images/s; '
          f'CPU time {1000 * cpu / n:.1f} ms/image = {n / cpu:.1f} images/s (faces found in {sum(r["face_count"] > 0 for r in res)}/{n})')
    print('share of the chain: ' + ', '.join(f'{k} {100 * v / tot:.0f}% ({1000 * v / n:.2f} ms)' for k, v in parts.items()))
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers, mp_context=get_context('spawn'), initializer=init_worker, initargs=(CFG.face_detector,)) as ex:
        list(ex.map(measure, ims[:workers], [CFG] * workers))   # start the workers, load their cascades
        t0 = time.perf_counter(); list(ex.map(measure, ims, [CFG] * n, chunksize=4)); pool = time.perf_counter() - t0
    print(f'{workers}-process pool: {n / pool:.1f} images/s ({n / pool / workers:.1f} per core, results pickled back)')


def planted(n:int, seed:int=0)->list:
    "n random 64-bit hashes; every third a copy of an earlier one with 0-5 bits flipped."
    rng, hs = random.Random(seed), []
    for i in range(n):
        if i % 3 == 2:
            h = hs[rng.randrange(len(hs))]
            for b in rng.sample(range(64), rng.randint(0, 5)): h ^= 1 << b
        else: h = rng.getrandbits(64)
        hs.append(h)
    return hs


def brute_pairs(arr:np.ndarray, queries:np.ndarray, k:int, chunk:int=256)->tuple:
    "(query, row, dist) of every stored row within k of each query, by full numpy popcount scan."
    qs, rs, ds = [], [], []
    for s in range(0, len(queries), chunk):
        d = np.bitwise_count(queries[s:s + chunk, None] ^ arr[None, :])
        q, r = np.nonzero(d <= k); qs.append(q + s); rs.append(r); ds.append(d[q, r].astype(np.int64))
    q, r, d = (np.concatenate(a) for a in (qs, rs, ds))
    o = np.lexsort((r, d, q))
    return q[o], r[o], d[o]


def flat(lists:list)->tuple:
    q = np.repeat(np.arange(len(lists)), [len(l) for l in lists])
    r = np.array([i for l in lists for i, _ in l], np.int64); d = np.array([x for l in lists for _, x in l], np.int64)
    return q, r, d


def bench_index(sizes, k:int=4, brute_max:int=30_000, brute_sample:int=10_000):
    print(f'\n## near-duplicate index: 64-bit hashes, max_dist={k}, a third planted near-copies')
    print('| hashes | insert + query all (batch) | online query-then-add | brute force | equal |')
    print('|---:|---:|---:|---:|:---|')
    for n in sizes:
        hs = planted(n); arr = np.array(hs, np.uint64); ids = list(range(n))
        t0 = time.perf_counter(); ix = NearDupIndex(k); ix.add_many(ids, hs); ans = ix.query_many(hs); bulk = time.perf_counter() - t0
        t0 = time.perf_counter(); on = NearDupIndex(k); near = []
        for i, h in zip(ids, hs): near.append(on.nearest(h)); on.add(i, h)
        online = time.perf_counter() - t0
        sample = np.arange(n) if n <= brute_max else np.sort(np.random.default_rng(0).choice(n, brute_sample, replace=False))
        t0 = time.perf_counter(); bq, br, bd = brute_pairs(arr, arr[sample], k); brute = time.perf_counter() - t0
        iq, ir, idd = flat([ans[i] for i in sample])
        equal = np.array_equal(bq, iq) and np.array_equal(br, ir) and np.array_equal(bd, idd)
        # online answers: nearest among the hashes added before, checked against brute force on a sample
        chk = random.Random(1).sample(range(1, n), 300)
        for i in chk:
            d = np.bitwise_count(arr[:i] ^ arr[i]); j = int(np.argmin(d))
            equal &= near[i] == ((j, int(d[j])) if d[j] <= k else (None, None))
        bf = f'{brute:.2f} s' if len(sample) == n else f'{brute:.2f} s for {len(sample):,} queries (~{brute * n / len(sample):.0f} s for all, extrapolated)'
        print(f'| {n:,} | {bulk:.3f} s | {online:.2f} s | {bf} | {"yes" if equal else "NO"} ({sum(map(len, ans)) - n:,} neighbour pairs) |')
        assert equal, f'index and brute force differ at n={n}'


if __name__ == '__main__':
    print('load average before the run: %.1f %.1f %.1f on %d cores' % (*os.getloadavg(), os.cpu_count()))
    bench_chain(30 if QUICK else 120)
    bench_index([10_000, 30_000] if QUICK else [10_000, 30_000, 120_000])
