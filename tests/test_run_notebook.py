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

def _outputs(cell)->str:
    "The text a cell showed: its streams and the plain text (or HTML) of its results."
    out = []
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'stream': out.append(''.join(o['text']))
        for k in ('text/plain', 'text/html'): out.append(''.join(o.get('data', {}).get(k, '')))
    return '\n'.join(out)

def test_papermill_run_writes_everything_under_out_dir(tmp_path):
    "The YAML's settings hold unless a parameter is given; the run logs its stages; the last cell shows key figures."
    out, yml = tmp_path/'o', tmp_path/'c.yaml'
    yml.write_text(f"raw_root: {FER}\nmodel_id: builtin:tiny\nface_policy: 'off'\ntarget_total: 238\n"
                   "synthetic_cap: 0.5\nnum_inference_steps: 30\nprogress: false\n")
    r = subprocess.run([str(PAPERMILL), str(NB), str(tmp_path/'ran.ipynb'), '-k', 'python3', '-p', 'config_file', str(yml),
                        '-p', 'out_dir', str(out), '-p', 'num_inference_steps', '8'],
                       capture_output=True, text=True, cwd=tmp_path, timeout=HANG_S)
    assert r.returncode == 0, r.stderr[-3000:]
    st = json.loads((out/'status.json').read_text())
    assert st['total_original'] == 210 and st['generation_model_id'] == 'builtin:tiny'
    assert st['synthetic_cap']['cap'] == 0.5                                        # the YAML's, not a notebook default
    plan = pd.read_csv(out/'plan.csv', index_col='label')
    assert (plan.target == 34).all()                                         # ceil(238 / 7): the YAML's target_total
    run = json.loads((out/'run.json').read_text())['config']
    assert run['num_inference_steps'] == 8 and run['face_policy'] == 'off'   # the parameter given overrides the YAML
    man = pd.concat([pd.read_csv(out/f'{s}.csv') for s in ('train', 'val', 'test')])
    assert len(man) == st['total_images'] and (out/'findings.html').exists() and len(list((out/'plots').glob('*.png'))) >= 5
    ran = json.loads((tmp_path/'ran.ipynb').read_text())
    assert any(c.get('metadata', {}).get('tags') == ['injected-parameters'] for c in ran['cells'])
    assert any(o.get('output_type') == 'display_data' and 'image/png' in o.get('data', {})
               for c in ran['cells'] for o in c.get('outputs', []))          # the plots show inline
    code = [c for c in ran['cells'] if c['cell_type'] == 'code']
    shown = '\n'.join(map(_outputs, code))
    assert 'IProgress' not in shown                                          # no widget warning from tqdm
    for stage in ('stage 1/3: scan', 'stage 2/3: generate and gate', 'stage 3/3: curate'): assert stage in shown, stage
    heads = [''.join(c['source']).splitlines()[0] for c in ran['cells'] if c['cell_type'] == 'markdown']
    assert sum(h.startswith('## ') for h in heads) >= 5                      # a headline per stage
    last = _outputs(code[-1])
    assert 'images in the corpus' in last and f"{st['total_images']:,}" in last and 'integrity checks' in last
    assert 'PosixPath' not in last                                           # figures, not a list of paths
    assert sorted(p.name for p in tmp_path.iterdir()) == ['c.yaml', 'o', 'ran.ipynb']  # nothing written beside out_dir

def test_notebook_defaults_are_none_and_documented():
    "Every setting parameter is None (not given) so a config file is never overridden by the notebook's defaults."
    nb = json.loads(NB.read_text())
    cell = next(c for c in nb['cells'] if 'parameters' in c.get('metadata', {}).get('tags', []))
    values = {ln.split(':')[0]: ln.split('=')[1].split('#')[0].strip() for ln in ''.join(cell['source']).splitlines() if ln.strip()}
    assert {k for k, v in values.items() if v != 'None'} == {'restart', 'evaluate'}
    md = ' '.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    assert '`facesynth run`' in md and 'with `config_file`' in md
