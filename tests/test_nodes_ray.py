"""Two Ray nodes on one machine, each started as its own process (`ray start --head`, then
`ray start --address`), one CPU each: the Ray engine's two workers land one on each node and
write the local engine's files (#23)."""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time
from pathlib import Path
import pytest
from facesynth_nb.pipeline import run_pipeline, make_demo_raw_root
from facesynth_nb.ray_engine import reachable
from conftest import facesynth
from test_ray import cfg_for, outputs   # the same small run as tests/test_ray.py

RAY = Path(sys.executable).with_name('ray')
START_S = 180   # a node starts in ~25 s on an idle 2-core machine; far longer under load

def free_port()->int:
    "A TCP port no one listens on now."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def start_node(*args)->subprocess.Popen:
    "`ray start ... --block` in its own process group: ending the group ends the node."
    cmd = [str(RAY), 'start', '--block', '--num-cpus', '1', '--num-gpus', '0',
           '--node-ip-address', '127.0.0.1', '--object-store-memory', str(100 * 2**20),
           '--disable-usage-stats', *args]
    env = {**os.environ, 'RAY_AUTH_MODE': 'disabled'}   # Ray 2.60 asks an explicit address for a token
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)

def until(pred, procs, timeout=START_S)->bool:
    "Poll `pred()` until true; False when a node process died or time ran out."
    t0 = time.time()
    while time.time() - t0 < timeout:
        if pred(): return True
        if any(p.poll() is not None for p in procs): return False
        time.sleep(0.5)
    return False

def stop_nodes(procs:list):
    "End each node's process group (SIGTERM, then SIGKILL): only what this test started."
    for p in procs:
        try: os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError: pass
    for p in procs:
        try: p.wait(timeout=30)
        except subprocess.TimeoutExpired: pass
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass

@pytest.fixture(scope='module')
def local_run(tmp_path_factory)->tuple:
    "The demo faces' raw folder and the local engine's outputs for it."
    raw = make_demo_raw_root(tmp_path_factory.mktemp('demo')/'raw')
    out = tmp_path_factory.mktemp('local')/'o'
    assert run_pipeline(cfg_for(raw, out)).ok
    return raw, outputs(out)

def alive_nodes(addr:str)->int:
    "How many nodes of the cluster at `addr` are alive, asked from a process of its own (none here joins)."
    code = ('import ray; ray.init(address=%r, logging_level="ERROR"); '
            'print(sum(bool(n.get("Alive")) for n in ray.nodes())); ray.shutdown()' % addr)
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=START_S)
    return int(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 and r.stdout.strip() else 0

@pytest.fixture
def two_nodes():
    port, procs = free_port(), []
    addr = f'127.0.0.1:{port}'
    tmp = tempfile.mkdtemp(prefix='rayn', dir='/tmp')    # short: Ray's unix sockets live in it
    try:
        procs.append(start_node('--head', '--port', str(port), '--temp-dir', tmp,
                                '--include-dashboard', 'false'))
        assert until(lambda: reachable(addr, timeout=1), procs), 'the head node did not start'
        procs.append(start_node('--address', addr))
        assert until(lambda: alive_nodes(addr) == 2, procs), 'the second node never joined'
        yield addr
    finally:
        stop_nodes(procs)
        shutil.rmtree(tmp, ignore_errors=True)

def test_two_nodes_one_worker_each_and_the_local_engines_files(two_nodes, local_run, tmp_path):
    raw, want = local_run
    out = tmp_path/'ray2'
    c = cfg_for(raw, out)   # the same settings, through the CLI: the run is a process of its own, as a user's
    r = facesynth('run', '--raw_root', raw, '--out_dir', out, '--model_id', c.model_id, '--face_policy', 'off',
                  '--target_total', c.target_total, '--num_inference_steps', c.num_inference_steps,
                  '--batch_size', c.batch_size, '--progress', 'false', '--engine', 'ray',
                  '--ray_address', two_nodes, '--workers', 2)
    assert r.returncode == 0, r.stderr[-3000:]
    assert outputs(out) == want
    info = json.loads((out/'engine.json').read_text())
    assert info['cluster']['nodes'] == 2 and info['cluster']['cpus'] == 2 and info['n_workers'] == 2
    # each worker takes one CPU and each node has one: the two made blocks on different nodes
    assert all(w['blocks'] > 0 for w in info['workers']), 'both workers made blocks'
