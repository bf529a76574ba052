"""Images/s of the findings' loop (batch 1, one pipeline call per image) vs the batched generator, same units.

CPU (default): builtin:tiny, 10 steps, batch 1 vs 4 vs 8, 16 images each, best of 3 interleaved rounds
(a shared CPU's load changes quickly); prints the batched / loop ratio.
GPU:  python benchmarks/bench_generate.py --model builtin:sd15-random --size 512 --steps 30 --batch 1,8,16 --compile
      prints images/s, the share of the physical ceiling (SD 1.5 costs ~43 TFLOP per 512² image at 30 guided steps)
      and how far a unit's image moves between batch 1 and batch N (max |Δ| in uint8 levels, pHash distance).
Warm-up calls (and torch.compile's compilation) are excluded from the timings and printed apart.
"""
import argparse, itertools, os, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from facesynth_nb.config import RunConfig
from facesynth_nb.generators import WorkUnit, get_generator

PROMPTS = ['a close-up photo of a {} face, studio lighting', 'a portrait of a {} person looking at the camera',
           'a grayscale photo of a {} young woman', 'a photo of a {} old man, natural light']
LABELS = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']

def bench_units(n, seed=20250924):
    "n units over the 7 FER labels, seeds from numpy's SeedSequence (as plan.unit_seed does)."
    out = []
    for k in range(n):
        lab, i = LABELS[k % 7], k // 7
        s = int(np.random.SeedSequence([seed, k]).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
        out.append(WorkUnit(lab, i, s, PROMPTS[k % 4].format(lab), 'blurry, cartoon, text, watermark'))
    return out

def sd15_tflop(size, steps, guidance):
    "TFLOP per SD 1.5 image (the issue's reference: 30 guided UNet steps 40.6 + VAE decode 2.5 at 512²)."
    unet = 40.6 / 30 * steps * (1 if guidance > 1 else 0.5)
    return (unet + 2.5) * (size / 512) ** 2

def warm_up(gen, units, batch):
    "Seconds of one untimed call of one batch (for torch.compile: the compilation)."
    gen.batch_size = batch
    t = time.perf_counter(); gen.generate(units[:batch]); return time.perf_counter() - t

def timed(gen, units, batch):
    "Seconds to generate `units` at `batch`; batch 1 is the findings' loop, one pipeline call per image."
    gen.batch_size = batch
    t = time.perf_counter()
    cands = [gen.generate([u])[0] for u in units] if batch == 1 else gen.generate(units)
    dt = time.perf_counter() - t
    if gen.batch_size != batch: print(f'  note: out of memory at batch {batch}, ran at {gen.batch_size}')
    return dt, cands

def diff(a, b):
    "(max |Δ|, mean |Δ|) in uint8 levels and pHash distance between the images of two candidate lists."
    mx, mean, ph = 0, [], 0
    try: import imagehash
    except ImportError: imagehash = None
    for x, y in zip(a, b):
        d = np.abs(np.asarray(x.image, np.int16) - np.asarray(y.image, np.int16))
        mx = max(mx, int(d.max())); mean.append(float(d.mean()))
        if imagehash: ph = max(ph, imagehash.phash(x.image) - imagehash.phash(y.image))
    return mx, float(np.mean(mean)), (ph if imagehash else 'n/a')

def gate_numbers(cands):
    "The gates' own scores at default settings (facesynth_nb.gates.measure): blur variance, faces, pHash distances."
    from facesynth_nb import gates
    cfg = RunConfig()
    sc = [gates.measure(c.image, cfg) for c in cands]
    blur = np.array([s['blur_var'] for s in sc])
    faces = np.bincount([s['face_count'] for s in sc]).tolist()
    hs = [int(s['phash'], 16) for s in sc]
    d = np.array([bin(a ^ b).count('1') for a, b in itertools.combinations(hs, 2)])
    print(f'gates over {len(cands)} images (defaults: {cfg.image_size}² {cfg.color_mode}, blur_var >= {cfg.blur_var_min}, '
          f'pHash distance > {cfg.hash_dist_max}): blur_var min {blur.min():.1f} p10 {np.percentile(blur, 10):.1f} '
          f'median {np.median(blur):.1f} max {blur.max():.1f} ({(blur >= cfg.blur_var_min).mean():.0%} pass); '
          f'pHash distance min {d.min()} p5 {np.percentile(d, 5):.0f} median {np.median(d):.0f} '
          f'({(d > cfg.hash_dist_max).mean():.1%} of pairs apart); images by face count {faces}')

def device_name(gen):
    import torch
    if gen.device == 'cuda': return torch.cuda.get_device_name()
    import platform
    load = ', load average %.1f' % os.getloadavg()[0] if hasattr(os, 'getloadavg') else ''
    return f'{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads{load}'

def run(gen, units, n_loop, batches, label, rows, ref, rounds=1):
    "Time each batch size `rounds` times, interleaved (so load changes hit all alike); keep the fastest round."
    sets = {b: units[:n_loop] if b == 1 else units[:max(len(units) // b, 1) * b] for b in batches}
    warm = {b: warm_up(gen, sets[b], b) for b in batches}
    best, out = {}, {}
    for r in range(rounds):
        for b in batches:
            dt, cands = timed(gen, sets[b], b)
            if b not in best or dt < best[b]: best[b], out[b] = dt, cands
    for b in batches:
        k, dt, cands = len(sets[b]), best[b], out[b]
        rows.append((label, b, k, dt, k / dt, warm[b]))
        print(f'  {label:<9} batch {b:>3}: {k:>3} images in {dt:7.2f}s = {k/dt:7.3f} img/s '
              f'(best of {rounds}; warm-up {warm[b]:.1f}s)', flush=True)
        flat = sum(float(np.asarray(c.image).std()) < 1 for c in cands)
        if flat: print(f'            WARNING: {flat}/{len(cands)} images are flat (NaN/inf in {label} run? black = nsfw-flagged?)')
        if b == 1 and ref is None: ref = cands
        elif ref is not None:
            mx, mean, ph = diff(ref, cands[:len(ref)])
            print(f'            unit images vs batch-1 loop: max |Δ| {mx} levels, mean |Δ| {mean:.4f}, max pHash distance {ph}')
    return ref, out[batches[-1]]

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default='builtin:tiny')
    ap.add_argument('--size', type=int, default=512, help='gen size (builtin:tiny always makes 128²)')
    ap.add_argument('--steps', type=int, default=None, help='default: 10 for builtin:tiny, else 30')
    ap.add_argument('--guidance', type=float, default=7.5)
    ap.add_argument('--batch', default=None, help='comma list; default 1,4,8 on CPU, 1,8,16 on GPU')
    ap.add_argument('--n', type=int, default=None, help='images per batched run (default 16 on CPU, 32 on GPU)')
    ap.add_argument('--n-loop', type=int, default=None, help='images in the batch-1 loop (default: as --n on CPU, 4 on GPU)')
    ap.add_argument('--compile', action='store_true', help='also run with torch.compile of the UNet')
    ap.add_argument('--compile-batch', default=None, help='batches to run compiled (default: the largest of --batch)')
    ap.add_argument('--dtype', default='auto')
    ap.add_argument('--device', default='auto')
    ap.add_argument('--channels-last', action='store_true')
    ap.add_argument('--peak-tflops', type=float, default=800.0, help='dense bf16/fp16 TFLOP/s of the GPU (H100 measured ~800)')
    ap.add_argument('--rounds', type=int, default=None, help='timed rounds per batch size, fastest kept (default 3 on CPU, 1 on GPU)')
    ap.add_argument('--gates', action='store_true', help="print the gates' scores of the last run's images (facesynth_nb.gates)")
    a = ap.parse_args(argv)
    steps = a.steps or (10 if a.model == 'builtin:tiny' else 30)
    cfg = RunConfig(model_id=a.model, gen_size=a.size, num_inference_steps=steps, guidance_scale=a.guidance,
                    dtype=a.dtype, device=a.device, channels_last=a.channels_last, progress=False)
    t = time.perf_counter(); gen = get_generator(cfg); load = time.perf_counter() - t
    gpu = gen.device == 'cuda'
    batches = [int(x) for x in (a.batch or ('1,8,16' if gpu else '1,4,8')).split(',')]
    n = a.n or (32 if gpu else 16); n_loop = a.n_loop or (4 if gpu else n); rounds = a.rounds or (1 if gpu else 3)
    units = bench_units(max(n, max(batches), n_loop))
    d = gen.describe()
    print(f'device: {device_name(gen)} | model {d["model_id"]} ({d["model_revision"]}) | {d["gen_size"]}² | {steps} steps | '
          f'CFG {a.guidance} | {d["dtype"]} | {d["scheduler"]} | torch {d["torch"]} diffusers {d["diffusers"]} | load {load:.1f}s')
    rows = []
    ref, last = run(gen, units, n_loop, batches, 'eager', rows, None, rounds)
    if a.gates: gate_numbers(last)
    gen.close()
    if a.compile:
        cb = [int(x) for x in (a.compile_batch or str(max(batches))).split(',')]
        t = time.perf_counter(); cgen = get_generator(cfg.updated(compile=True)); load = time.perf_counter() - t
        print(f'  compiled generator built in {load:.1f}s (compilation happens in the warm-up call)')
        run(cgen, units, n_loop, cb, 'compiled', rows, ref, rounds)
        cgen.close()
    loop = next((r[4] for r in rows if r[0] == 'eager' and r[1] == 1), None)
    tf = sd15_tflop(d['gen_size'], steps, a.guidance) if 'sd15' in a.model or 'stable-diffusion-v1-5' in a.model else None
    print('\n| run | batch | images | s | img/s | × loop | % of ceiling |')
    print('|---|---|---|---|---|---|---|')
    for lab, b, k, dt, ips, _ in rows:
        share = f'{100 * ips * tf / a.peak_tflops:.1f}%' if (tf and gpu) else 'n/a'
        print(f'| {lab} | {b} | {k} | {dt:.2f} | {ips:.3f} | {ips / loop:.2f} | {share} |' if loop else f'| {lab} | {b} | {k} | {dt:.2f} | {ips:.3f} | n/a | {share} |')
    if tf and gpu: print(f'ceiling: {tf:.1f} TFLOP/image at {a.peak_tflops:.0f} TFLOP/s = {a.peak_tflops / tf:.1f} img/s')
    best = max(rows, key=lambda r: r[4])
    if loop: print(f'best: {best[0]} batch {best[1]} at {best[4]:.3f} img/s = {best[4] / loop:.2f}× the batch-1 loop')

if __name__ == '__main__': main()
