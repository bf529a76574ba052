r"""Generation throughput with every speed option of issue 16 in one run, and where the time goes.

For each variant (a set of RunConfig speed options) at one batch size: images/s, % of the physical
ceiling (SD 1.5 costs ~43.1 TFLOP per 512² image at 30 guided steps), × the findings' batch-1 loop,
the first call's seconds (torch.compile compiles there), the drift of a unit's image against eager
at the same batch (max |Δ| in uint8 levels, pHash distance), and a short batch (batch - 1 units,
padded when compiled): does it recompile, does it keep the units' images (vs the same units in the
full block of the same variant). Then a torch.profiler breakdown of one batch per variant: UNet, VAE
decode, scheduler, text encoder, other kernels, and the time the GPU sits idle (host gaps). On a CPU
the breakdown is CPU time and "other" is host work.

GPU (one prepared run; variants run cheapest first, each row printed as soon as it is measured):
  python3 benchmarks/gpu_throughput.py --model builtin:sd15-random --size 512 --steps 30 \
    --batch 16 --time-limit 420
CPU smoke test (known to work):
  python benchmarks/gpu_throughput.py --model builtin:tiny --size 128 --steps 2 --batch 4 --n 8 \
    --n-loop 2
"""

import argparse, contextlib, signal, sys, time, types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from bench_generate import bench_units, device_name, diff, sd15_tflop
from facesynth_nb.config import RunConfig
from facesynth_nb.generators import get_generator

FAST = dict(fuse_qkv=True, compile_vae=True, fullgraph=True)
VARIANTS = {  # name -> RunConfig speed options; cheapest first (max-autotune compiles for minutes)
    'eager': dict(),
    'eager-nocache': dict(prompt_cache=0),
    'fuse': dict(fuse_qkv=True),
    'compile': dict(compile_mode='default'),  # RESULTS.md's 6.15 img/s on the H200
    'compile-fuse-vae': dict(compile_mode='default', **FAST),
    'reduce-overhead': dict(compile_mode='reduce-overhead', **FAST),  # CUDA graphs
    'autotune-nocg': dict(compile_mode='max-autotune-no-cudagraphs', **FAST),
    'autotune': dict(compile_mode='max-autotune', **FAST),  # autotuned kernels + CUDA graphs
}
REGIONS = ('text_encoder', 'unet', 'scheduler', 'vae_decode')


def sync(device):
    import torch

    if device == 'cuda':
        torch.cuda.synchronize()


def unique_graphs() -> int:
    "Graphs torch.compile has made so far in this process (a recompile adds one)."
    try:
        from torch._dynamo.utils import counters

        return int(counters['stats']['unique_graphs'])
    except Exception:
        return -1


@contextlib.contextmanager
def annotated(pipe):
    "Wrap the pipeline's stage calls in torch.profiler.record_function ranges named after REGIONS."
    import torch

    targets = [
        (pipe.text_encoder, 'forward', 'text_encoder'),
        (pipe.unet, 'forward', 'unet'),
        (pipe.scheduler, 'step', 'scheduler'),
        (pipe.vae, 'decode', 'vae_decode'),
    ]
    saved = []
    for obj, attr, name in targets:
        own = attr in vars(obj)  # a compiled module keeps its forward on the instance
        saved.append((obj, attr, own, vars(obj).get(attr)))

        def wrapped(*a, _f=getattr(obj, attr), _n=name, **k):
            with torch.profiler.record_function(_n):
                return _f(*a, **k)

        object.__setattr__(obj, attr, wrapped)
    try:
        yield
    finally:
        for obj, attr, own, old in saved:
            if own:
                object.__setattr__(obj, attr, old)
            else:
                object.__delattr__(obj, attr)


def breakdown(gen, units) -> dict:
    "Milliseconds per region in one profiled batch: GPU time (and idle) on a GPU, else CPU time."
    from torch.profiler import profile, ProfilerActivity

    cuda = gen.device == 'cuda'
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with annotated(gen.pipe), profile(activities=acts) as prof:
        sync(gen.device)
        t = time.perf_counter()
        gen.generate(units)
        sync(gen.device)
        wall = (time.perf_counter() - t) * 1e3
    evs = [e for e in prof.events() if str(e.device_type).endswith('CPU')]
    dev = lambda e: getattr(e, 'device_time_total', None) or getattr(e, 'cuda_time_total', 0)
    own = lambda e: (
        getattr(e, 'self_device_time_total', None) or getattr(e, 'self_cuda_time_total', 0)
    )
    out = {
        r: sum((dev(e) if cuda else e.cpu_time_total) for e in evs if e.name == r) / 1e3
        for r in REGIONS
    }
    if cuda:
        kernels = sum(own(e) for e in evs) / 1e3  # one stream: kernel time = time the GPU is busy
        out.update(other_kernels=kernels - sum(out[r] for r in REGIONS), gpu_idle=wall - kernels)
    else:
        out.update(other_host=wall - sum(out[r] for r in REGIONS))
    sort = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    try:
        top = prof.key_averages().table(sort_by=sort, row_limit=8, max_name_column_width=60)
    except Exception as e:
        top = f'(no table: {e})'
    return dict(wall=wall, ms=out, top=top)


def run_variant(name, over, cfg, units, a, ref) -> dict:
    "Build, warm up (compile), time `a.n` images, check a padded short batch, profile one batch."
    import torch

    with contextlib.suppress(Exception):
        torch._dynamo.reset()  # a fresh compile, honestly timed
    t = time.perf_counter()
    gen = get_generator(cfg.updated(**over))
    build = time.perf_counter() - t
    B = a.batch
    try:
        gen.batch_size = B
        t = time.perf_counter()
        gen.generate(units[:B])
        sync(gen.device)
        first = time.perf_counter() - t
        g_timed = unique_graphs()
        t = time.perf_counter()
        cands = gen.generate(units[: a.n])
        sync(gen.device)
        dt = time.perf_counter() - t
        if gen.batch_size != B:
            print(f'  note: out of memory at batch {B}, ran at {gen.batch_size}')
        g0 = unique_graphs()
        timed_recompiles = g0 - g_timed if g_timed >= 0 else 'n/a'
        if timed_recompiles:
            print(f'  WARNING: {timed_recompiles} graph(s) compiled during the timed run '
                  '(rerun with TORCH_LOGS=recompiles to see why)')
        t = time.perf_counter()
        short = gen.generate(units[1:B]) if B > 1 else []
        short_s = time.perf_counter() - t
        row = dict(
            name=name,
            over=over,
            build=build,
            first=first,
            n=a.n,
            s=dt,
            ips=a.n / dt,
            short_s=short_s,
            recompiles=unique_graphs() - g0 if g0 >= 0 else 'n/a',
            timed_recompiles=timed_recompiles,
            cands=cands,
            drift=diff(ref, cands[: len(ref)]) if ref else None,
            short=diff(cands[1:B], short) if short else None,
            describe=gen.describe(),
        )
        flat = sum(float(np.asarray(c.image).std()) < 1 for c in cands)
        if flat:
            print(f'  WARNING: {flat}/{len(cands)} images are flat (NaN/inf?)')
        row['profile'] = breakdown(gen, units[:B]) if a.profile else None
        return row
    finally:
        gen.close()


def loop_row(cfg, units, a) -> dict:
    "The findings' loop: one pipeline call per image (eager, batch 1)."
    gen = get_generator(cfg)
    try:
        gen.batch_size = 1
        gen.generate(units[:1])
        t = time.perf_counter()
        cands = [gen.generate([u])[0] for u in units[: a.n_loop]]
        dt = time.perf_counter() - t
        return dict(
            name='loop (batch 1)',
            s=dt,
            n=a.n_loop,
            ips=a.n_loop / dt,
            cands=cands,
            describe=gen.describe(),
        )
    finally:
        gen.close()


def fmt_diff(d):
    return '—' if d is None else f'{d[0]} / {d[2]}'


def print_tables(rows, loop, tf, a, gpu):
    print(
        '\n| variant | options | batch | img/s | % of ceiling | × batch-1 loop | first call s | '
        'drift vs eager (max Δ / pHash) | short batch: recompiles, Δ / pHash |'
    )
    print('|---|---|---|---|---|---|---|---|---|')
    ceil = lambda ips: f'{100 * ips * tf / a.peak_tflops:.1f} %' if (tf and gpu) else 'n/a'
    if loop:
        print(f"| {loop['name']} | — | 1 | {loop['ips']:.3f} | {ceil(loop['ips'])} | 1.00 | "
              "— | — | — |")
    for r in rows:
        opts = ', '.join(f'{k}={v}' for k, v in r['over'].items()) or 'defaults'
        x = f"{r['ips'] / loop['ips']:.2f}" if loop else 'n/a'
        print(
            f"| {r['name']} | {opts} | {a.batch} | {r['ips']:.3f} | {ceil(r['ips'])} | {x} | "
            f"{r['first']:.1f} | {fmt_diff(r['drift'])} | "
            f"{r['recompiles']}, {fmt_diff(r['short'])} |"
        )
    if tf and gpu:
        print(f'ceiling: {tf:.1f} TFLOP/image at {a.peak_tflops:.0f} TFLOP/s = '
              f'{a.peak_tflops / tf:.1f} img/s')
    prof = [r for r in rows if r.get('profile')]
    if not prof:
        return
    cols = list(REGIONS) + (['other_kernels', 'gpu_idle'] if gpu else ['other_host'])
    kind = 'GPU time' if gpu else 'CPU time'
    print(f"\nwhere one batch of {a.batch} goes ({kind}; % of the batch's wall time):")
    print('| variant | wall ms | ' + ' | '.join(cols) + ' |')
    print('|---|---|' + '---|' * len(cols))
    for r in prof:
        p = r['profile']
        print(
            f"| {r['name']} | {p['wall']:.0f} | "
            + ' | '.join(f"{100 * p['ms'][c] / p['wall']:.1f} %" for c in cols)
            + ' |'
        )
    best = max(prof, key=lambda r: r['ips'])
    for r in [prof[0], best] if best is not prof[0] else [best]:
        print(f"\ntop operators, {r['name']}:\n{r['profile']['top']}")


def on_sigterm(*_):
    raise KeyboardInterrupt('SIGTERM')


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('--model', default='builtin:sd15-random')
    ap.add_argument(
        '--size', type=int, default=512, help='gen size (builtin:tiny always makes 128²)'
    )
    ap.add_argument('--steps', type=int, default=30)
    ap.add_argument('--guidance', type=float, default=7.5)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument(
        '--n', type=int, default=32, help='images per timed run (a multiple of --batch)'
    )
    ap.add_argument(
        '--n-loop', type=int, default=4, help='images in the batch-1 loop (0 = skip it)'
    )
    ap.add_argument(
        '--variants', default=','.join(VARIANTS), help=f'comma list of: {", ".join(VARIANTS)}'
    )
    ap.add_argument('--dtype', default='auto')
    ap.add_argument('--device', default='auto')
    ap.add_argument(
        '--peak-tflops',
        type=float,
        default=800.0,
        help='dense fp16 TFLOP/s of the GPU (H100/H200 ~800)',
    )
    ap.add_argument(
        '--time-limit',
        type=float,
        default=0,
        help='start no variant after this many seconds (0 = none)',
    )
    ap.add_argument(
        '--no-profile',
        dest='profile',
        action='store_false',
        help='skip the torch.profiler breakdown',
    )
    a = ap.parse_args(argv)
    names = [v.strip() for v in a.variants.split(',') if v.strip()]
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        ap.error(f'unknown variant(s) {bad}; known: {", ".join(VARIANTS)}')
    if a.n % a.batch:
        ap.error(f'--n {a.n} must be a multiple of --batch {a.batch}')
    cfg = RunConfig(
        model_id=a.model,
        gen_size=a.size,
        num_inference_steps=a.steps,
        guidance_scale=a.guidance,
        dtype=a.dtype,
        device=a.device,
        progress=False,
    )
    units = bench_units(max(a.n, a.n_loop, a.batch))
    signal.signal(
        signal.SIGTERM, on_sigterm
    )  # `timeout` sends it: print the tables measured so far
    t0, rows, loop, gpu, tf = time.perf_counter(), [], None, False, None
    try:
        loop = loop_row(cfg, units, a) if a.n_loop else None
        d = loop['describe'] if loop else None
        for name in names:
            if a.time_limit and time.perf_counter() - t0 > a.time_limit:
                print(f'  {name}: skipped (--time-limit {a.time_limit:.0f}s reached)')
                continue
            ref = rows[0]['cands'] if rows and rows[0]['name'] == 'eager' else None
            base = ref if name != 'eager' else (loop or {}).get('cands')
            r = run_variant(name, VARIANTS[name], cfg, units, a, base)
            rows.append(r)
            d = r['describe']
            gpu = d['device'] == 'cuda'
            if len(rows) == 1:
                where = device_name(types.SimpleNamespace(device=d['device']))
                print(f"device: {where} | {d['model_id']} | {d['gen_size']}² | {a.steps} steps | "
                      f"CFG {a.guidance} | {d['dtype']} | {d['scheduler']} | torch {d['torch']} "
                      f"diffusers {d['diffusers']}", flush=True)
            print(f"  {name:<17} {r['ips']:8.3f} img/s | first call {r['first']:6.1f}s | "
                  f"build {r['build']:5.1f}s | drift {fmt_diff(r['drift'])} | short batch "
                  f"{r['short_s']:.1f}s, recompiles {r['recompiles']}, {fmt_diff(r['short'])} | "
                  f"{time.perf_counter() - t0:.0f}s so far", flush=True)
        tf = (
            sd15_tflop(a.size, a.steps, a.guidance)
            if ('sd15' in a.model or 'stable-diffusion-v1-5' in a.model)
            else None
        )
    except KeyboardInterrupt as e:
        print(f'interrupted ({e}); tables below hold the variants measured so far')
    finally:
        if tf is None and ('sd15' in a.model or 'stable-diffusion-v1-5' in a.model):
            tf = sd15_tflop(a.size, a.steps, a.guidance)
        print_tables(rows, loop, tf, a, gpu)
        if rows:
            best = max(rows, key=lambda r: r['ips'])
            print(
                f"best: {best['name']} at {best['ips']:.3f} img/s"
                + (f" = {best['ips'] / loop['ips']:.2f}× the loop" if loop else '')
            )
        print(f'gpu_throughput.py: {time.perf_counter() - t0:.0f}s', flush=True)


if __name__ == '__main__':
    main()
