"""The Ray engine on a local Ray cluster this module starts (2 CPUs, CPU workers, small object store):
the same files as the local engine, a worker killed in the middle of a block, and resume across engines."""
import json, os, signal, threading, time
from pathlib import Path
import pandas as pd
import pytest
import ray   # a dev dependency (settings.ini), like pytest
from facesynth_nb.config import RunConfig
from facesynth_nb.pipeline import run_pipeline, make_demo_raw_root
from facesynth_nb.ingest import scan_raw_root
from facesynth_nb.plan import load_plan
from facesynth_nb.prompts import load_prompt_bank
from facesynth_nb.loop import synthesize, load_decisions, ENGINES, Interrupted
from facesynth_nb.ray_engine import RayEngine, connect

SPLITS = ('train', 'val', 'test')

@pytest.fixture(scope='module')
def cluster():
    assert connect(RunConfig(), num_cpus=2, object_store_memory=200 * 2**20)   # a local Ray of 2 CPUs
    yield ray.cluster_resources()
    ray.shutdown()

@pytest.fixture(scope='module')
def raw(tmp_path_factory): return make_demo_raw_root(tmp_path_factory.mktemp('demo')/'raw')

def cfg_for(raw, out, **kw):
    "Small and fast: builtin:tiny (noise, face gate off), 4 steps, blocks of 2, about 25 synthetic images."
    return RunConfig(raw_root=str(raw), out_dir=str(out), model_id='builtin:tiny', face_policy='off', target_total=126,
                     num_inference_steps=4, batch_size=2, progress=False, **{'workers': 1, **kw})

def outputs(out:Path)->dict:
    "Manifests, the synthetic table (without its timestamps) and the sha256 of every synthetic image file."
    meta = pd.read_csv(out/'synthetic_meta.csv').drop(columns=['timestamp'])
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out/'synthetic').rglob('*.png'))}
    return dict(manifests={s: (out/f'{s}.csv').read_text() for s in SPLITS}, meta=meta.to_csv(index=False),
                sha256=list(meta.sha256), files=files)

@pytest.fixture(scope='module')
def local_run(raw, tmp_path_factory):
    out = tmp_path_factory.mktemp('local')/'o'
    res = run_pipeline(cfg_for(raw, out))
    assert res.ok and len(res.status) > 0
    o = outputs(out)
    assert len(o['sha256']) >= 14, 'the plan should ask for a few synthetic images per label'
    return out, o

def test_ray_engine_gives_the_local_engines_files(cluster, raw, local_run, tmp_path):
    out = tmp_path/'ray'
    res = run_pipeline(cfg_for(raw, out, engine='ray', workers=2))
    assert res.ok
    assert outputs(out) == local_run[1]
    info = json.loads((out/'engine.json').read_text())
    assert info['engine'] == 'ray' and info['n_workers'] == 2 and info['cluster']['cpus'] == 2
    assert all(w['blocks'] > 0 for w in info['workers']), 'both workers made blocks'
    status = json.loads((out/'status.json').read_text())
    assert status['engine']['engine'] == 'ray' and len(status['engine']['workers']) == 2

def test_a_worker_killed_mid_block_is_restarted_and_the_run_ends_the_same(cluster, raw, local_run, tmp_path,
                                                                          monkeypatch):
    engines = []
    def keep(cfg, gen): engines.append(RayEngine(cfg, gen)); return engines[-1]
    monkeypatch.setitem(ENGINES, 'ray', keep)
    out, box = tmp_path/'killed', {}
    def run():
        try: box['res'] = run_pipeline(cfg_for(raw, out, engine='ray', workers=2))
        except BaseException as e: box['err'] = e
    t = threading.Thread(target=run); t.start()
    killed, t0 = None, time.time()
    while t.is_alive() and killed is None and time.time() - t0 < 600:
        e = engines[0] if engines and hasattr(engines[0], 'busy') else None
        if e is not None and e.stats[0]['blocks'] >= 1 and e.busy[0] > 0:   # worker 0 holds a block it has not returned
            killed = e.workers[0]['pid']; os.kill(killed, signal.SIGKILL)
        time.sleep(0.005)
    t.join(600)
    assert killed is not None, 'the run ended before worker 0 was busy with a second block'
    assert 'err' not in box, box.get('err')
    assert box['res'].ok
    info = json.loads((out/'engine.json').read_text())
    assert info['workers'][0]['restarts'] >= 1, 'worker 0 was not restarted'
    assert outputs(out) == local_run[1]

class StopAfter:
    "A stop flag that turns on after `n` looks: the loop journals what it has and raises Interrupted."
    def __init__(self, n): self.n = n
    @property
    def stop(self): self.n -= 1; return self.n < 0

@pytest.mark.parametrize('first,then', [('local', 'ray'), ('ray', 'local')])
def test_an_interrupted_run_resumes_from_the_journal_with_either_engine(cluster, raw, local_run, tmp_path, first, then):
    base_out, base = local_run
    cfg = cfg_for(raw, tmp_path/'o')
    cfg.out.mkdir(parents=True)
    originals, plan, bank = scan_raw_root(cfg), load_plan(base_out), load_prompt_bank(cfg)
    with pytest.raises(Interrupted):
        synthesize(originals, plan, bank, cfg.updated(engine=first, workers=2 if first == 'ray' else 1), stop=StopAfter(2))
    n_first = len(load_decisions(cfg.out))
    assert 0 < n_first < len(load_decisions(base_out)), n_first
    t = synthesize(originals, plan, bank, cfg.updated(engine=then, workers=2 if then == 'ray' else 1))
    assert list(t.sha256) == base['sha256']
    ids = [json.loads(l)['unit_id'] for l in (cfg.out/'journal.jsonl').read_text().splitlines()]
    assert len(ids) == len(set(ids)), 'a unit was journaled twice'

def test_dry_run_with_ray_prints_the_cluster_workers_and_estimate(cluster, raw, tmp_path, capsys):
    from facesynth_nb.cli import main
    assert main(['run', '--dry-run', '--engine', 'ray', '--raw_root', str(raw), '--out_dir', str(tmp_path/'o'),
                 '--target_total', '126']) == 0
    out = capsys.readouterr().out
    assert 'ray cluster: 1 node(s), 0 GPU(s), 2 CPU(s)' in out, out
    assert 'workers: 2 x 0 GPU' in out
    assert 'time estimate: unknown (no reference rate for CPU workers' in out
    assert not (tmp_path/'o'/'journal.jsonl').exists()
