"""Ray engine vs local engine, and the driver's decide + write rate (what caps scaling).

1. `engines`: `loop.synthesize` on the same plan with the local engine and the Ray engine (a local Ray this
   script starts: `--cpus` CPUs, small object store), builtin:tiny (noise; face gate off); prints wall time,
   images/s and the Ray overhead per image, with Ray's start-up (ray.init, workers loading the model)
   reported apart. `--gate-on actor|tasks` chooses where the Ray engine gates.
2. `driver`: the driver's part alone: decide (near-duplicate query in an index of `--index` hashes),
   write the accepted PNG atomically and journal, for `--n` candidates already gated; prints images/s.
   `--writers W`: W writer threads write and fsync the accepted PNGs while the loop decides on, each journal
   line appended once its file is written (what a run does, #23); `--writers 0`: each PNG written in the
   deciding thread before the next decision (the driver before #23).

CPU:  python benchmarks/bench_ray.py engines --n 32 --batch 4 --steps 4 --workers 2
      python benchmarks/bench_ray.py engines --n 32 --batch 4 --steps 4 --workers 2 --gate-on tasks
      python benchmarks/bench_ray.py driver --n 400 --index 36000
      python benchmarks/bench_ray.py driver --n 400 --index 120000
      python benchmarks/bench_ray.py driver --n 400 --index 120000 --writers 0
"""
import argparse, json, os, sys, tempfile, time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np, pandas as pd
from PIL import Image
from facesynth_nb.config import RunConfig, config_hash
from facesynth_nb.generators import Candidate
from facesynth_nb.hashindex import NearDupIndex
from facesynth_nb.io import Journal
from facesynth_nb.prompts import load_prompt_bank, prompts_version_hash
from facesynth_nb.loop import (synthesize, load_decisions, make_unit, gate_job, provenance_text, _Loop, _InlinePool,
                                LabelState, register_engine)
from facesynth_nb import ray_engine, gates

def _load():
    try: return f'{os.getloadavg()[0]:.1f}'
    except OSError: return '?'

def engines(a):
    out = Path(tempfile.mkdtemp())
    cfg = RunConfig(raw_root=str(out), out_dir=str(out/'local'), model_id='builtin:tiny', face_policy='off',
                    num_inference_steps=a.steps, batch_size=a.batch, progress=False, workers=1)
    bank = load_prompt_bank(cfg)
    originals = pd.DataFrame({c: pd.Series([], dtype=str) for c in ('orig_id', 'phash', 'file_path', 'label', 'split')})
    plan = pd.DataFrame({'planned': [a.n // 2, a.n - a.n // 2], 'max_candidates': [a.n // 2, a.n - a.n // 2]},
                        index=pd.Index(['happy', 'sad'], name='label'))
    t = time.perf_counter(); ray_engine.connect(cfg, num_cpus=a.cpus, object_store_memory=200 * 2**20)
    t_init = time.perf_counter() - t
    register_engine('ray', lambda c, g: ray_engine.RayEngine(c, g, gate_on=a.gate_on))
    res = {}
    for rnd in range(a.rounds):
        for eng in ('local', 'ray'):
            c = cfg.updated(out_dir=str(out/f'{eng}{rnd}'), engine=eng, workers=a.workers if eng == 'ray' else 1)
            t = time.perf_counter(); tab = synthesize(originals, plan, bank, c); dt = time.perf_counter() - t
            info = json.loads((c.out/'engine.json').read_text())
            res.setdefault(eng, []).append((dt, tab))
            print(f'round {rnd} {eng:5s}: {len(tab)} images in {dt:.2f} s = {len(tab) / dt:.2f} img/s  '
                  f'(load {_load()})' + (f"  workers img/s {[w['img_per_s'] for w in info['workers']]}" if eng == 'ray' else ''))
    same = all(list(t.sha256) == list(res['local'][0][1].sha256) for eng in res for _, t in res[eng])
    best = {eng: min(dt for dt, _ in v) for eng, v in res.items()}
    n = len(res['local'][0][1])
    print(f'builtin:tiny 128², {a.steps} steps, batch {a.batch}, {n} images; ray: {a.workers} CPU workers, gate on {a.gate_on}, '
          f'{a.cpus} CPUs; ray.init {t_init:.1f} s (not in the figures below; worker start-up is)')
    print(f"best local {best['local']:.2f} s ({n / best['local']:.2f} img/s), best ray {best['ray']:.2f} s "
          f"({n / best['ray']:.2f} img/s); ray - local = {(best['ray'] - best['local']) / n * 1000:.0f} ms per image; "
          f'identical sha256: {same}')
    ray_engine.import_ray().shutdown()

def driver(a):
    "Decide + write + journal for candidates already gated (what the driver does per image, whatever the engine)."
    out = Path(tempfile.mkdtemp())
    cfg = RunConfig(raw_root=str(out), out_dir=str(out), face_policy='off', progress=False, workers=1)
    ctx = dict(config_hash=config_hash(cfg), prompts_version_hash=prompts_version_hash(load_prompt_bank(cfg)))
    rng = np.random.default_rng(0)
    idx = NearDupIndex(max_dist=cfg.hash_dist_max, bits=64)
    idx.add_many([f'o{i}' for i in range(a.index)], [int(x) for x in rng.integers(0, 2**63, a.index, dtype=np.int64)])
    bank = load_prompt_bank(cfg)
    cands, futs = [], []
    for i in range(a.n):                                          # gated beforehand (workers do this), not timed
        u = make_unit('happy', i, bank, cfg)
        im = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).resize((512, 512), Image.BICUBIC)
        c = Candidate(u, im, dict(model_id='builtin:tiny', device='cpu'))
        f = Future(); f.set_result(gate_job(im, cfg, provenance_text(u, c.record, ctx)))
        cands.append(c); futs.append(f)
    writer = ThreadPoolExecutor(a.writers) if a.writers else None
    loop = _Loop(cfg, ctx, {'happy': LabelState('happy', a.n, a.n)}, gates.GateContext(phash=idx), _InlinePool(),
                 out, writer=writer)
    journal = Journal(out/'journal.jsonl')
    t = time.perf_counter()
    for b in range(0, a.n, a.batch):
        loop.submit(cands[b:b + a.batch], futs[b:b + a.batch])
        journal.append(loop.decide(wait_all=True))
    journal.append(loop.durable(wait=True))
    dt = time.perf_counter() - t
    if writer: writer.shutdown()
    acc = sum(1 for r in load_decisions(out) if r['status'] == 'accepted')
    print(f'driver: {a.n} candidates decided, {acc} written, journaled in {dt:.2f} s = {a.n / dt:.1f} img/s '
          f'({dt / a.n * 1000:.2f} ms each; index {len(idx)} hashes; {a.writers} writer threads; load {_load()})')

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('what', choices=('engines', 'driver'))
    ap.add_argument('--n', type=int, default=32); ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--steps', type=int, default=4); ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--cpus', type=int, default=2); ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--gate-on', dest='gate_on', default='actor', choices=('actor', 'tasks'))
    ap.add_argument('--index', type=int, default=36_000, help='hashes already in the near-duplicate index')
    ap.add_argument('--writers', type=int, default=4, help='writer threads (0: write in the deciding thread)')
    a = ap.parse_args()
    (engines if a.what == 'engines' else driver)(a)

if __name__ == '__main__': main()
