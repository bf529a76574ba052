"""Does gating overlap with generation? Candidates/s of generation alone vs the full generate+gate loop.

Generation alone: `generator.generate` over N units in batches. Loop: `loop.synthesize` on the same N units
(one label, face gate on; untrained-model noise has no face, so every unit is generated, gated on CPU workers,
decided and journaled). The issue's target: loop time <= 1.15 x generation alone.

CPU:  python benchmarks/bench_overlap.py                       (builtin:tiny, 128², 10 steps, N=32, batch 8)
GPU:  python benchmarks/bench_overlap.py --model builtin:sd15-random --steps 30 --n 64 --batch 16
"""
import argparse, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pandas as pd
from facesynth_nb.config import RunConfig
from facesynth_nb.generators import get_generator
from facesynth_nb.prompts import load_prompt_bank
from facesynth_nb.loop import synthesize, make_unit, load_decisions

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default='builtin:tiny'); ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--n', type=int, default=32); ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--workers', type=int, default=0)
    ap.add_argument('--face_policy', default='single', help="'off' where OpenCV has no Haar cascades (opencv 5.x)")
    a = ap.parse_args()
    out = Path(tempfile.mkdtemp())
    cfg = RunConfig(raw_root=str(out), out_dir=str(out/'o'), model_id=a.model, num_inference_steps=a.steps, batch_size=a.batch,
                    face_policy=a.face_policy, progress=False, workers=a.workers)
    bank = load_prompt_bank(cfg); gen = get_generator(cfg)
    units = [make_unit('happy', i, bank, cfg) for i in range(a.n)]
    gen.generate(units[:a.batch])                                   # warm-up (weights, kernels, allocator)
    t = time.perf_counter(); gen.generate(units); t_gen = time.perf_counter() - t
    originals = pd.DataFrame({'orig_id': pd.Series([], dtype=str), 'phash': pd.Series([], dtype=str)})
    plan = pd.DataFrame({'planned': [a.n], 'max_candidates': [a.n]}, index=pd.Index(['happy'], name='label'))
    t = time.perf_counter(); synthesize(originals, plan, bank, cfg, generator=gen); t_loop = time.perf_counter() - t
    n = len(load_decisions(cfg.out))
    print(f'face_policy {a.face_policy}  model {a.model}  steps {a.steps}  batch {a.batch}  workers {cfg.workers or os.cpu_count()}  device {gen.describe().get("device")}')
    print(f'generation alone: {a.n} images in {t_gen:.2f} s = {a.n / t_gen:.2f} img/s')
    print(f'generate+gate loop: {n} candidates decided in {t_loop:.2f} s = {n / t_loop:.2f} img/s  (includes starting the gate workers)')
    print(f'loop / generation alone = {t_loop / t_gen:.3f}  (target <= 1.15)')

if __name__ == '__main__': main()
