"""Issue 16's speed options from the outside: config files old and new, the text-embedding cache
with the real prompt bank, and a whole run whose images and hash do not change with the speed
options (CPU, builtin:tiny)."""

import json
from pathlib import Path
import numpy as np, pytest
import imagehash
from facesynth_nb.config import RunConfig, ConfigError, load_config, config_hash
from facesynth_nb.generators import get_generator, compile_mode_of
from facesynth_nb.prompts import load_prompt_bank
from facesynth_nb.loop import make_unit


def test_config_files_old_and_new(tmp_path):
    p = tmp_path / 'c.yaml'
    p.write_text('compile: true\n')  # a config written before compile_mode existed
    assert compile_mode_of(load_config(p)) == 'default'
    p.write_text(
        'compile_mode: max-autotune\ncompile_vae: true\nfullgraph: true\nfuse_qkv: true\n'
        'prompt_cache: 0\n'
    )
    c = load_config(p)
    got = (compile_mode_of(c), c.compile_vae, c.fullgraph, c.fuse_qkv, c.prompt_cache)
    assert got == ('max-autotune', True, True, True, 0)
    assert config_hash(c) == config_hash(RunConfig())  # speed options never change what a run makes
    for text, needle in (
        ('compile_mode: turbo\n', 'compile_mode'),
        ('fullgraph: true\n', 'unless compiling'),
        ('prompt_cache: -1\n', 'prompt_cache'),
        ('fuse_qkv: maybe\n', 'fuse_qkv'),
    ):
        p.write_text(text)
        with pytest.raises(ConfigError, match=needle):
            load_config(p)


def _rows(module) -> list:
    "Rows the module is called with, one entry per call."
    seen = []
    module.register_forward_pre_hook(
        lambda m, args, kw: seen.append(len((args or (kw['input_ids'],))[0])), with_kwargs=True
    )
    return seen


def test_text_encoder_once_per_distinct_text_with_the_real_bank():
    cfg = RunConfig(
        model_id='builtin:tiny', num_inference_steps=2, device='cpu', batch_size=4, progress=False
    )
    bank = load_prompt_bank(cfg)
    units = [make_unit(lb, i, bank, cfg) for lb in ('happy', 'sad') for i in range(4)]
    assert len({u.prompt for u in units}) == 8 and len({u.negative_prompt for u in units}) == 1
    out = {}
    for size in (64, 0):
        with get_generator(cfg.updated(prompt_cache=size)) as g:
            rows = _rows(g.pipe.text_encoder)
            out[size] = g.generate(units)
            # cached: 8 distinct prompts in two calls of 4, the shared negative once;
            # off: 2 x 4 texts per batch
            assert rows == ([4, 1, 4] if size else [4, 4, 4, 4]), rows
            if size:
                assert (g.embeds.misses, g.embeds.hits) == (9, 7)
    for a, b in zip(out[64], out[0]):
        d = np.abs(np.asarray(a.image, np.int16) - np.asarray(b.image, np.int16)).max()
        assert d <= 1 and imagehash.phash(a.image) - imagehash.phash(b.image) == 0, a.unit.unit_id


def _journal(out: Path) -> dict:
    rows = [json.loads(l) for l in (out / 'journal.jsonl').read_text().splitlines() if l.strip()]
    return {r['unit_id']: (r['status'], r['phash']) for r in rows}


def test_a_run_keeps_its_images_and_its_hash_with_the_speed_options(tmp_path):
    from facesynth_nb.pipeline import make_demo_raw_root, run_pipeline

    raw = make_demo_raw_root(tmp_path / 'raw')
    base = RunConfig(
        raw_root=str(raw),
        model_id='builtin:tiny',
        face_policy='off',
        target_total=112,
        num_inference_steps=2,
        batch_size=4,
        progress=False,
        workers=1,
    )
    a = run_pipeline(base.updated(out_dir=str(tmp_path / 'a')))
    fast = base.updated(out_dir=str(tmp_path / 'b'), fuse_qkv=True, prompt_cache=0)
    b = run_pipeline(fast)
    ja, jb = _journal(a.out_dir), _journal(b.out_dir)
    assert ja and ja == jb  # same units, same decisions, same pHashes
    assert a.status['total_synthetic'] == b.status['total_synthetic'] > 0
    # the speed options are not part of the run's identity: either out_dir resumes under the other's
    # settings
    assert json.loads((a.out_dir / 'run.json').read_text())['config_hash'] == config_hash(fast)
