"""Benchmark of the semantic gates (embedder, semantic near-duplicate search, label validator).

Run: .venv/bin/python benchmarks/bench_semantic.py  [--quick]

1. Embedder throughput on exported-form 224x224 images, one process: hog (per core) and the tiny random
   CLIP; a real-size CLIP ViT-L/14 tower (random weights, the safety checker's architecture) on the CPU.
2. `EmbeddingIndex.nearest` (exact, blocked matmul) against brute force (one full matmul), at 10k / 30k /
   120k stored vectors of 900 (hog) and 768 (CLIP ViT-L/14) dims: ms per query, same answers.
2b. The semantic gate per candidate, as the loop asks it (#23): old = one float32 matrix-vector scan per
   candidate (the index before #23); new = `embed.BlockSearch`, one product per block of 16 or 64
   candidates, then each candidate in order against the ones accepted before it in the block. Every
   candidate is accepted and joins the index (the costliest case for the in-block part). 10k / 36k / 120k
   stored vectors; prints ms per candidate and whether old and new pick the same rows.
   Only this part: `python benchmarks/bench_semantic.py --block-only`
3. The label gate per candidate: `LabelValidator.score` on one embedding.
4. The semantic gates against the CPU gate chain with hog: gates.measure() with and without the embedder, and the
   in-order part (index lookup + validator) at 10k stored vectors.
"""
import os, sys, time
import numpy as np
from PIL import Image
from skimage import data as skdata

from facesynth_nb.config import RunConfig
from facesynth_nb.embed import HogEmbedder, EmbeddingIndex, BlockSearch, l2_normalize, get_embedder
from facesynth_nb.gates import measure, to_export
from facesynth_nb.label_check import LabelValidator

QUICK = '--quick' in sys.argv
BLOCK_ONLY = '--block-only' in sys.argv
CFG = RunConfig(face_detector='haar_alt2')


def rate(f, n:int)->float:
    "Calls per second of f() over n calls (after one warm-up), CPU time of this process."
    f(); t = time.process_time()
    for _ in range(n): f()
    return n / max(time.process_time() - t, 1e-9)


def bench_embedders(faces:list):
    hog = HogEmbedder()
    n = 50 if QUICK else 200
    print(f'hog: {rate(lambda: hog.embed(faces[:1]), n):.0f} images/s per core (batch 1), '
          f'{rate(lambda: hog.embed(faces[:32]), max(n // 32, 2)) * 32:.0f} images/s (batch 32)')
    tc = get_embedder(RunConfig(embedder='builtin:tiny-clip'))
    print(f'builtin:tiny-clip: {rate(lambda: tc.embed(faces[:32]), 5) * 32:.0f} images/s (batch 32)')
    if QUICK: return
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, CLIPImageProcessor
    from facesynth_nb.embed import vision_model_tower
    torch.set_num_threads(os.cpu_count() or 1)
    cfgL = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24,
                            image_size=224, patch_size=14, projection_dim=768)
    big = vision_model_tower(CLIPVisionModelWithProjection(cfgL), CLIPImageProcessor(), 'random ViT-L/14', '', 'cpu')
    t = time.perf_counter(); big.embed(faces[:8]); dt = time.perf_counter() - t
    print(f'CLIP ViT-L/14 (random weights) on {os.cpu_count()} CPU threads: {8 / dt:.2f} images/s (batch 8, wall)')


def bench_search():
    rng = np.random.default_rng(0)
    sizes = (10_000, 30_000) if QUICK else (10_000, 30_000, 120_000)
    print('| vectors | dim | blocked nearest, ms/query | brute force, ms/query | same answers |')
    for dim in (900, 768):
        for n in sizes:
            X = l2_normalize(rng.standard_normal((n, dim)).astype(np.float32))
            ix = EmbeddingIndex(dim)
            ix.add_many([str(i) for i in range(n)], X)
            Q = l2_normalize(rng.standard_normal((20, dim)))
            t = time.perf_counter(); got = [ix.nearest(q)[0] for q in Q]; tb = (time.perf_counter() - t) / len(Q)
            t = time.perf_counter(); want = [str(int(np.argmax(X @ q))) for q in Q]; tf = (time.perf_counter() - t) / len(Q)
            print(f'| {n:,} | {dim} | {tb * 1e3:.2f} | {tf * 1e3:.2f} | {"yes" if got == want else "NO"} |')


def old_nearest(ix:EmbeddingIndex, v:np.ndarray, block:int=32768)->tuple:
    "The index's search before #23: one float32 matrix-vector product per row block, first on ties."
    best, bi, n = -np.inf, -1, len(ix)
    for b0 in range(0, n, block):
        sims = ix._m[b0:min(b0 + block, n)] @ v
        j = int(np.argmax(sims))
        if sims[j] > best: best, bi = float(sims[j]), b0 + j
    return ix.ids[bi], best


def stored(n:int, dim:int, extra:int)->EmbeddingIndex:
    "An index of `n` random unit rows, with room for `extra` more (no reallocation while timed)."
    ix = EmbeddingIndex(dim)
    ix._m = np.zeros((n + extra, dim), np.float32)
    ix.add_many([str(i) for i in range(n)], l2_normalize(np.random.default_rng(n).standard_normal((n, dim))))
    return ix


def bench_block_search(dim:int=900):
    "ms per candidate of the semantic gate, old (one scan per candidate) vs new (one product per block)."
    rng = np.random.default_rng(2)
    print('| stored | dim | old ms/cand | block 16: new ms/cand | block 64: new ms/cand | same rows |')
    for n in (10_000, 36_000, 120_000):
        C = l2_normalize(rng.standard_normal((128, dim)))
        ix = stored(n, dim, len(C))
        k = 16 if n > 50_000 else 64
        t = time.perf_counter()
        old = []
        for i, v in enumerate(C[:k]):
            old.append(old_nearest(ix, v)[0])
            ix.add(f'c{i}', v)
        t_old = (time.perf_counter() - t) / k
        res, same = {}, True
        for b in (16, 64):
            ix = stored(n, dim, len(C))
            t, got = time.perf_counter(), []
            for b0 in range(0, len(C), b):
                bs = BlockSearch(ix, C[b0:b0 + b])
                for j in range(len(bs.vecs)):
                    got.append(bs.nearest(j)[0])
                    ix.add(f'c{b0 + j}', C[b0 + j])
            res[b] = (time.perf_counter() - t) / len(C)
            same = same and got[:k] == old
        print(f'| {n:,} | {dim} | {t_old * 1e3:.2f} | {res[16] * 1e3:.2f} | {res[64] * 1e3:.2f} | '
              f'{"yes" if same else "NO"} |')


def bench_gate_share(faces:list):
    hog = HogEmbedder()
    cands = [f.resize((512, 512), Image.BICUBIC) for f in faces[:40]]
    n = len(cands)
    def chain(emb):
        t = time.process_time()
        for c in cands: measure(c, CFG, embedder=emb)
        return (time.process_time() - t) / n
    base, with_emb = chain(None), chain(hog)
    rng = np.random.default_rng(1)
    X = l2_normalize(rng.standard_normal((10_000, 900)))
    ix = EmbeddingIndex(900); ix.add_many([str(i) for i in range(len(X))], X)
    y = np.array(['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise'] * 30)
    v = LabelValidator(hog.embed(faces[:len(y)] if len(faces) >= len(y) else (faces * 4)[:len(y)]), y)
    e = hog.embed(cands[:1])[0]
    t = time.process_time()
    for _ in range(200): ix.nearest(e)
    t_nn = (time.process_time() - t) / 200
    t = time.process_time()
    for _ in range(2000): v.score(e, 'happy')
    t_lab = (time.process_time() - t) / 2000
    extra = (with_emb - base) + t_nn + t_lab
    print(f'gate chain (face, blur, pHash; 512² -> 224² L): {base * 1e3:.1f} ms CPU per candidate')
    print(f'  + hog embedding in the worker: {(with_emb - base) * 1e3:.2f} ms; semantic lookup at 10k: '
          f'{t_nn * 1e3:.2f} ms; label gate: {t_lab * 1e3:.3f} ms')
    print(f'  semantic gates add {100 * extra / base:.1f} % to the CPU gate chain (target <= 20 %)')


if __name__ == '__main__' and BLOCK_ONLY:
    print(f'cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}')
    bench_block_search(900)
    bench_block_search(768)
    print(f'load average after {os.getloadavg()[0]:.2f}')
elif __name__ == '__main__':
    faces = [to_export(Image.fromarray(a).convert('RGB'), 224, 'RGB')
             for a in (skdata.lfw_subset()[:100] * 255).round().astype('uint8')]
    faces = faces + [f.transpose(Image.FLIP_LEFT_RIGHT) for f in faces] + [f.rotate(5) for f in faces]
    print(f'cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}')
    bench_embedders(faces)
    bench_search()
    bench_block_search()
    bench_gate_share(faces)
