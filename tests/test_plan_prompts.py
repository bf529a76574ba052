"""Plan and prompts from the outside: FER2013's real numbers against hand arithmetic, determinism of seeds and
prompts across processes and runs, and the scan -> plan -> units -> prompts path on real faces."""
import json, os, subprocess, sys
import pandas as pd
import pytest

from facesynth_nb.config import ConfigError, InputError, RunConfig
from facesynth_nb.ingest import scan_raw_root
from facesynth_nb.plan import (cap_allowance, load_plan, plan_estimates, plan_needs, planned_units, save_plan, unit_id,
                               unit_seed)
from facesynth_nb.prompts import (DEFAULT_BANK, axis_spread, check_bank_covers, load_prompt_bank, prompts_version_hash,
                                  unit_prompt)

from conftest import FER   # the FER sample, or real faces in its layout (never skipped)

FER_TRAIN = {'angry': 3995, 'disgust': 436, 'fear': 4097, 'happy': 7215, 'sad': 4830, 'surprise': 3171, 'neutral': 4965}

# Worked by hand: target = ceil(83000 / 7) = 11858; need = 11858 - train; cap 0.6 allows floor(0.6 * o / 0.4) = floor(1.5 * o)
# label:    need,  allowed,                        planned, shortfall, cause
HAND = {
    'angry':    (7863, 5992,   5992, 1871, 'cap'),   # 1.5 * 3995 = 5992.5
    'disgust':  (11422, 654,    654, 10768, 'cap'),  # 1.5 * 436 = 654
    'fear':     (7761, 6145,   6145, 1616, 'cap'),   # 1.5 * 4097 = 6145.5
    'happy':    (4643, 10822,  4643, 0, ''),         # 1.5 * 7215 = 10822.5
    'neutral':  (6893, 7447,   6893, 0, ''),         # 1.5 * 4965 = 7447.5
    'sad':      (7028, 7245,   7028, 0, ''),         # 1.5 * 4830 = 7245
    'surprise': (8687, 4756,   4756, 3931, 'cap'),   # 1.5 * 3171 = 4756.5
}


def fer_train_originals():
    return pd.DataFrame({'label': [l for l, n in FER_TRAIN.items() for _ in range(n)], 'split': 'train'})


def test_fer2013_plan_matches_hand_arithmetic():
    cfg = RunConfig(target_total=83_000, synthetic_cap=0.6)
    counts = pd.DataFrame({'train': FER_TRAIN, 'val': 0, 'test': 0})          # every train image stays in train
    p = plan_needs(fer_train_originals(), cfg, split_counts=counts)
    assert list(p.index) == sorted(FER_TRAIN)
    assert (p.target == 11858).all() and p.original.to_dict() == FER_TRAIN
    got = {l: (r.need, r.allowed_by_cap, r.planned, r.shortfall, r.shortfall_cause) for l, r in p.iterrows()}
    assert got == HAND
    assert p.planned.sum() == 36111                                              # 5992+654+6145+4643+6893+7028+4756
    assert (p.synthetic_share_train <= 0.6).all()
    assert p.loc['disgust', 'synthetic_share_train'] == 0.6                      # 654 / (654 + 436) exactly
    # the same numbers when the table itself says "all train" and no val is carved out of it
    q = plan_needs(fer_train_originals(), cfg.updated(split_fractions=(1.0, 0.0, 0.0)))
    assert q.equals(p)


def test_cap_allowance_is_the_largest_share_under_the_cap():
    for cap in (0.1, 0.25, 0.5, 0.6, 0.75, 0.9):
        for o in (0, 1, 2, 3, 7, 436, 3171, 10**6 + 1):
            s = cap_allowance(o, cap)
            assert s == 0 or s / (s + o) <= cap
            assert (s + 1) / (s + 1 + o) > cap


def test_over_target_classes_are_kept_and_reported():
    o = pd.DataFrame({'label': ['happy'] * 900 + ['disgust'] * 50 + ['sad'] * 300, 'split': ''})
    p = plan_needs(o, RunConfig(target_total=1500))                               # target 500 per class
    assert p.loc['happy', ['need', 'planned', 'shortfall_cause', 'final']].tolist() == [0, 0, 'over_target', 900]
    assert p.loc['disgust', ['original_train', 'allowed_by_cap', 'planned', 'shortfall_cause']].tolist() == [40, 60, 60, 'cap']
    assert p.loc['sad', ['original_train', 'need', 'allowed_by_cap', 'planned', 'shortfall']].tolist() == [240, 200, 360, 200, 0]


SNIPPET = ("import json; from facesynth_nb.config import RunConfig; from facesynth_nb.plan import unit_seed, unit_id; "
           "from facesynth_nb.prompts import load_prompt_bank, unit_prompt, prompts_version_hash; "
           "c = RunConfig(seed=7); b = load_prompt_bank(c); "
           "print(json.dumps([[unit_id(l, i), unit_seed(c, l, i), *unit_prompt(b, l, i)] for l in ('happy', 'disgust', 'fear') "
           "for i in (0, 1, 16, 9999, 1234567)] + [prompts_version_hash(b)]))")


def run_snippet(hashseed:str)->list:
    r = subprocess.run([sys.executable, '-c', SNIPPET], capture_output=True, text=True, env={**os.environ, 'PYTHONHASHSEED': hashseed})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_seeds_and_prompts_identical_across_processes_and_runs():
    here = [[unit_id(l, i), unit_seed(RunConfig(seed=7), l, i), *unit_prompt(load_prompt_bank(RunConfig()), l, i)]
            for l in ('happy', 'disgust', 'fear') for i in (0, 1, 16, 9999, 1234567)] + [prompts_version_hash(DEFAULT_BANK)]
    assert run_snippet('0') == run_snippet('4242') == here
    assert len({row[1] for row in here[:-1]}) == len(here) - 1                  # all seeds distinct


def test_seeds_do_not_depend_on_other_labels_or_batches():
    cfg = RunConfig()
    a = planned_units(pd.DataFrame({'planned': [5]}, index=pd.Index(['happy'], name='label')), cfg)
    b = planned_units(pd.DataFrame({'planned': [3, 5, 2]}, index=pd.Index(['angry', 'happy', 'zzz'], name='label')), cfg)
    assert b[b.label == 'happy'].reset_index(drop=True).equals(a)
    big = {unit_seed(cfg, l, i) for l in FER_TRAIN for i in range(20_000)}
    assert len(big) == 7 * 20_000


def test_scan_plan_units_prompts_on_real_faces(tmp_path):
    cfg = RunConfig(raw_root=str(FER), out_dir=str(tmp_path/'out'), target_total=700, progress=False)
    o = scan_raw_root(cfg)
    p = plan_needs(o, cfg)
    # 30 originals per class, no presets: train round(30 * 0.8) = 24, cap allows floor(1.5 * 24) = 36; target 100, need 70
    assert (p.original == 30).all() and (p.original_train == 24).all() and (p.target == 100).all()
    assert (p.allowed_by_cap == 36).all() and (p.planned == 36).all() and (p.shortfall_cause == 'cap').all()
    save_plan(p, cfg.out); assert load_plan(cfg.out).equals(p)
    check_bank_covers(load_prompt_bank(cfg), p.index)
    units = planned_units(p, cfg)
    assert len(units) == 7 * 36 and units.unit_id.is_unique and units.seed.is_unique
    sp = axis_spread(DEFAULT_BANK, units)
    assert (sp.groupby(level='axis')['all'].sum() == len(units)).all()
    est = plan_estimates(p, o, cfg, seconds_per_image=2.0)
    assert est['planned'] == 252 and est['candidates_est'] == 7 * 52 and est['time_s'] == 7 * 52 * 2.0   # ceil(36 / 0.7) = 52
    assert est['disk_bytes'] > 0 and est['bytes_per_original'] > 1000


def test_label_outside_the_emotions_needs_a_prompt(tmp_path):
    labels = ['happy', 'contempt', 'pain']
    with pytest.raises(ConfigError, match="no prompt for label\\(s\\) 'contempt', 'pain'"):
        check_bank_covers(load_prompt_bank(RunConfig()), labels)
    y = tmp_path/'bank.yaml'
    y.write_text('prompts:\n  Contempt: "portrait photo of {person} with a contemptuous smirk, expressive contemptuous face"\n'
                 '  pain: ["portrait photo of {person} wincing in pain, expressive pained face"]\n')
    bank = load_prompt_bank(RunConfig(prompts_file=str(y)))
    check_bank_covers(bank, labels)
    assert unit_prompt(bank, 'contempt', 0)[0].startswith('portrait photo of a young adult woman with a contemptuous smirk')
    assert prompts_version_hash(bank) != prompts_version_hash(DEFAULT_BANK)
    assert unit_prompt(bank, 'happy', 3) == unit_prompt(DEFAULT_BANK, 'happy', 3)    # extending keeps the built-in prompts


def test_plan_refuses_nothing_to_plan():
    with pytest.raises(InputError, match='no originals'): plan_needs(pd.DataFrame({'label': [], 'split': []}), RunConfig())
