"Embedders from the outside: the cache across processes, the registry, exact search, the tiny CLIP."
import subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data as skdata
from facesynth_nb.config import RunConfig, ConfigError
from facesynth_nb.embed import (EMBEDDERS, BlockSearch, EmbeddingIndex, HogEmbedder, embed_files,
                                exact_cosines, get_embedder, l2_normalize, register_embedder)

FACES = [Image.fromarray(a).convert('RGB') for a in (skdata.lfw_subset()[:12] * 255).round().astype('uint8')]

class Counting(HogEmbedder):
    calls = 0
    def embed(self, images):
        Counting.calls += len(images)
        return super().embed(images)

def write_faces(d:Path)->list:
    d.mkdir(parents=True, exist_ok=True)
    paths = [d/f'{i}.png' for i in range(len(FACES))]
    for p, f in zip(paths, FACES): f.save(p)
    return paths

def test_cache_is_reused_by_a_new_process(tmp_path):
    paths = write_faces(tmp_path/'f')
    a = embed_files(paths, HogEmbedder(), tmp_path/'cache')
    code = ("import sys; from pathlib import Path; import numpy as np; sys.path.insert(0, sys.argv[1]);"
            "from facesynth_nb.embed import EmbeddingCache, HogEmbedder;"
            "c = EmbeddingCache(Path(sys.argv[2]), HogEmbedder()); print(len(c))")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, '-c', code, str(root), str(tmp_path/'cache')], capture_output=True, text=True)
    assert out.stdout.strip() == str(len(FACES)), out.stderr[-2000:]
    Counting.calls = 0
    b = embed_files(paths, Counting(), tmp_path/'cache')
    assert Counting.calls == 0 and np.array_equal(a, b)

def test_a_changed_file_is_embedded_again(tmp_path):
    paths = write_faces(tmp_path/'f')
    embed_files(paths, HogEmbedder(), tmp_path/'cache')
    ImageOps.mirror(FACES[0]).rotate(90).save(paths[0])
    Counting.calls = 0
    embed_files(paths, Counting(), tmp_path/'cache')
    assert Counting.calls == 1

def test_registry_and_errors():
    assert get_embedder(RunConfig(model_id='builtin:tiny')).name == 'hog'
    with pytest.raises(ConfigError, match="embedder='nope'"): get_embedder(RunConfig(embedder='nope'))
    with pytest.raises(ConfigError, match='semantic_dup_min'): RunConfig(semantic_dup_min=-0.1)
    register_embedder('test:const', lambda cfg: HogEmbedder(side=32))
    try: assert get_embedder(RunConfig(embedder='test:const')).dim == 324
    finally: EMBEDDERS.pop('test:const')

def test_index_equals_brute_force():
    rng = np.random.default_rng(5)
    X = l2_normalize(rng.normal(size=(5000, 64)))
    ix = EmbeddingIndex(64, block=700)
    ix.add_many([str(i) for i in range(len(X))], X)
    for q in l2_normalize(rng.normal(size=(30, 64))):
        nid, c = ix.nearest(q)
        assert nid == str(int(np.argmax(X @ q))) and abs(c - float((X @ q).max())) < 1e-5

def test_block_search_on_near_ties_equals_exact_brute_force():
    "Cosines closer than float32 resolves: the block search picks what a float64 scan of every row picks."
    rng = np.random.default_rng(11)
    dim, Q = 900, l2_normalize(rng.normal(size=(40, 900)))
    near = [l2_normalize(q[None] + 3e-4 * rng.normal(size=(60, dim))) for q in Q[:20]]   # 60 near-ties each
    X = np.concatenate([l2_normalize(rng.normal(size=(3000, dim)))] + near)
    X = X[rng.permutation(len(X))]
    want = []
    for q in Q:
        c = exact_cosines(X, q)
        want.append((str(int(np.argmax(c))), float(c.max())))
    spread = [np.sort(exact_cosines(X, q))[-2:] for q in Q[:20]]
    assert min(b - a for a, b in spread) < 1e-6                # ties closer than float32 tells apart
    for row_block, b in ((500, 1), (4096, 7), (1024, 40)):
        ix = EmbeddingIndex(dim, block=row_block)
        ix.add_many([str(i) for i in range(len(X))], X)
        got = []
        for b0 in range(0, len(Q), b):
            bs = BlockSearch(ix, Q[b0:b0 + b])
            got += [bs.nearest(j) for j in range(len(bs.vecs))]
        assert got == want

def test_tiny_clip_is_deterministic_and_normalised():
    a = get_embedder(RunConfig(embedder='builtin:tiny-clip')).embed(FACES)
    b = EMBEDDERS['builtin:tiny-clip'](RunConfig()).embed(FACES)   # a second load, not the process's one
    assert a.shape == (12, 32) and np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5) and np.allclose(a, b, atol=1e-6)
