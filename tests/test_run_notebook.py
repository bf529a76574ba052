"The papermill entry point: injected parameters, files under out_dir, documented parameters."
import json, subprocess, sys
from pathlib import Path
import pandas as pd
from conftest import ROOT, FER, HANG_S

NB = ROOT/'nbs'/'95_run.ipynb'
PAPERMILL = Path(sys.executable).with_name('papermill')

def test_help_notebook_documents_the_parameters():
    r = subprocess.run([str(PAPERMILL), '--help-notebook', str(NB)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ('raw_root', 'out_dir', 'model_id', 'target_total', 'face_policy', 'synthetic_cap'): assert name in r.stdout
    assert 'builtin:tiny' in r.stdout and 'images wanted in the final corpus' in r.stdout

def test_parameters_cell_is_tagged_and_literal():
    nb = json.loads(NB.read_text())
    cells = [c for c in nb['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(cells) == 1
    for line in ''.join(cells[0]['source']).splitlines():
        if line.strip(): assert ':' in line.split('=')[0] and '#' in line, f'not an annotated, commented literal: {line}'

def test_papermill_run_writes_everything_under_out_dir(tmp_path):
    out = tmp_path/'o'
    r = subprocess.run([str(PAPERMILL), str(NB), str(tmp_path/'ran.ipynb'), '-k', 'python3', '-p', 'raw_root', str(FER),
                        '-p', 'out_dir', str(out), '-p', 'target_total', '238', '-p', 'num_inference_steps', '8'],
                       capture_output=True, text=True, cwd=tmp_path, timeout=HANG_S)
    assert r.returncode == 0, r.stderr[-3000:]
    st = json.loads((out/'status.json').read_text())
    assert st['total_original'] == 210 and st['generation_model_id'] == 'builtin:tiny'
    man = pd.concat([pd.read_csv(out/f'{s}.csv') for s in ('train', 'val', 'test')])
    assert len(man) == st['total_images'] and (out/'findings.html').exists() and len(list((out/'plots').glob('*.png'))) >= 5
    ran = json.loads((tmp_path/'ran.ipynb').read_text())
    assert any(c.get('metadata', {}).get('tags') == ['injected-parameters'] for c in ran['cells'])
    assert any(o.get('output_type') == 'display_data' and 'image/png' in o.get('data', {})
               for c in ran['cells'] for o in c.get('outputs', []))          # the plots show inline
    assert sorted(p.name for p in tmp_path.iterdir()) == ['o', 'ran.ipynb']  # nothing written beside out_dir
