"""Ingest from the outside: a raw_root holding every kind of bad and odd file, the FER2013 CSV, the cache,
real faces, and fuzzed inputs. raw_root must come out byte-identical every time."""
import builtins, hashlib, io, os, shutil, struct, subprocess, sys, zlib
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from PIL import Image
from skimage import data as skdata

from facesynth_nb.config import InputError, RunConfig
from facesynth_nb.io import tree_hash
from facesynth_nb import ingest
from facesynth_nb.ingest import (BadFile, FER_LABELS, ORIGINALS_COLUMNS, load_originals, load_quarantine,
                                 read_gray, scan_raw_root, label_conflict_groups)

from conftest import FER   # the FER sample, or real faces in its layout (never skipped)


# ---------------------------------------------------------------- helpers: real faces and crafted files
def face(size=48)->Image.Image:
    "A real face (scikit-image's astronaut), grayscale."
    return Image.fromarray(skdata.astronaut()).crop((160, 40, 320, 200)).resize((size, size)).convert('L')

def enc(im, fmt, **kw)->bytes:
    b = io.BytesIO(); im.save(b, fmt, **kw); return b.getvalue()

def png_chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))

def bomb_png(w, h)->bytes:
    "A PNG whose header claims w x h pixels; only a few bytes of data (nothing big is ever allocated)."
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
            + png_chunk(b'IDAT', zlib.compress(b'\0' * 64)) + png_chunk(b'IEND', b''))

def corrupt_png(im)->bytes:
    d = enc(im, 'PNG'); i = d.find(b'IDAT'); return d[:i + 14] + bytes(200) + d[i + 214:]

def corrupt_jpeg(im)->bytes:
    d = enc(im, 'JPEG'); k = d.find(b'\xff\xda'); return d[:k + 20] + b'\xff\xc0' * 20 + d[k + 60:]

def sha1_of(gray:np.ndarray)->str:
    "The table's sha1 of expected `L` pixels (size plus pixels)."
    h, w = gray.shape
    return hashlib.sha1(f'{w}x{h}:'.encode() + np.ascontiguousarray(gray, dtype=np.uint8).tobytes()).hexdigest()

def luma(rgb:np.ndarray)->np.ndarray:
    "ITU-R 601-2 luma, as PIL computes it from RGB."
    return np.array(Image.fromarray(rgb.astype(np.uint8), "RGB").convert("L"))


# ---------------------------------------------------------------- the messy raw_root
BAD = {   # relative path -> expected quarantine reason
    'happy/empty.jpg': 'zero_byte',
    'happy/notes.jpg': 'not_image',
    'happy/corrupt.png': 'corrupt',
    'happy/corrupt.jpg': 'corrupt',
    'sad/cut.jpg': 'truncated',
    'sad/no end marker.jpg': 'truncated',
    'sad/huge.png': 'decompression_bomb',
    'sad/bigger than max_pixels.png': 'decompression_bomb',
    'sad/link outside.jpg': 'symlink_outside',
    'sad/link to outside folder': 'symlink_outside',
    'sad/broken link.jpg': 'unreadable',
    'sad/loop.jpg': 'unreadable',
    'sad/loop2.jpg': 'unreadable',
    'sad/a fifo.jpg': 'not_image',
}

def expected_odd(f:Image.Image)->dict:
    "relative path -> (bytes, expected L pixels, mode as stored) of every odd-but-valid file."
    g = np.asarray(f); rng = np.random.default_rng(1)
    rgb = np.stack([g, np.roll(g, 5, 0), 255 - g], -1).astype(np.uint8)
    out = {}
    # RGBA: opaque face, a transparent corner that must become white
    a = np.dstack([rgb, np.full(g.shape, 255, np.uint8)]); a[:10, :10, 3] = 0
    e = luma(rgb); e[:10, :10] = 255
    out['happy/rgba.png'] = (enc(Image.fromarray(a, 'RGBA'), 'PNG'), e, 'RGBA')
    # half-transparent gray+alpha: composited on white
    la = np.dstack([g, np.full(g.shape, 128, np.uint8)])
    comp = np.asarray(Image.alpha_composite(Image.new('RGBA', f.size, (255,) * 4), Image.fromarray(la, 'LA').convert('RGBA')).convert('L'))
    out['happy/gray alpha.png'] = (enc(Image.fromarray(la, 'LA'), 'PNG'), comp, 'LA')
    # CMYK, lossless (TIFF): exact pixels through RGB
    cm = Image.fromarray(rgb, 'RGB').convert('CMYK')
    out['happy/cmyk.tif'] = (enc(cm, 'TIFF'), luma(np.asarray(cm.convert('RGB'))), 'CMYK')
    # CMYK JPEG: whatever PIL decodes, converted through RGB
    cj = enc(cm, 'JPEG', quality=95); dec = Image.open(io.BytesIO(cj)); dec.load()
    out['happy/cmyk.jpg'] = (cj, luma(np.asarray(dec.convert('RGB'))), 'CMYK')
    # palette, and palette with a transparent index (-> white)
    pal = Image.fromarray(rgb, 'RGB').quantize(16)
    out['sad/palette.png'] = (enc(pal, 'PNG'), luma(np.asarray(pal.convert('RGB'))), 'P')
    pt = pal.copy(); pt.info['transparency'] = 0
    pe = luma(np.asarray(pal.convert('RGB'))).copy(); pe[np.asarray(pal) == 0] = 255
    out['sad/palette transparent.png'] = (enc(pt, 'PNG', transparency=0), pe, 'P')
    # 16-bit gray: scaled by 257, not clipped
    out['sad/sixteen bit.png'] = (enc(Image.fromarray(g.astype(np.uint16) * 257), 'PNG'), g, 'I;16')
    v16 = rng.integers(0, 65536, g.shape).astype(np.uint16)
    out['sad/sixteen bit noise.tif'] = (enc(Image.fromarray(v16), 'TIFF'), ((2 * v16.astype(np.int64) + 257) // 514).astype(np.uint8), 'I;16')
    # EXIF orientation 6 (stored rotated; displayed upright); lossless PNG so the pixels are exact
    tall = f.crop((0, 0, 48, 30)); ex = Image.Exif(); ex[0x0112] = 6
    out['fear/exif rotated.png'] = (enc(tall.transpose(Image.Transpose.ROTATE_90), 'PNG', exif=ex.tobytes()), np.asarray(tall), 'L')
    # non-ASCII name with spaces; 1-bit; BMP; GIF; progressive JPEG; WebP when PIL has it
    out['fear/visage étonné ünïcode 😮 .png'] = (enc(f, 'PNG'), g, 'L')
    bw = f.convert('1'); out['fear/bilevel.png'] = (enc(bw, 'PNG'), np.asarray(bw.convert('L')), '1')
    out['neutral/face.bmp'] = (enc(Image.fromarray(rgb), 'BMP'), luma(rgb), 'RGB')
    gif = Image.fromarray(rgb).quantize(64); out['neutral/face.gif'] = (enc(gif, 'GIF'), luma(np.asarray(gif.convert('RGB'))), 'P')
    pj = enc(f, 'JPEG', progressive=True, quality=90); out['neutral/progressive.jpg'] = (pj, np.asarray(Image.open(io.BytesIO(pj))), 'L')
    return out

def build_raw(root:Path, outside:Path):
    f = face(); root.mkdir(parents=True)
    for d in ('happy', 'sad', 'fear', 'neutral', 'Surprise '): (root/d).mkdir()
    jpg = enc(f, 'JPEG')
    (root/'happy'/'ok.jpg').write_bytes(jpg)
    (root/'Surprise '/'ok.jpg').write_bytes(enc(f.rotate(180), 'JPEG'))
    for rel, (b, _, _) in expected_odd(f).items(): (root/rel).write_bytes(b)
    (root/'happy'/'empty.jpg').write_bytes(b'')
    (root/'happy'/'notes.jpg').write_text('these are notes, not a face\n')
    (root/'happy'/'corrupt.png').write_bytes(corrupt_png(f))
    (root/'happy'/'corrupt.jpg').write_bytes(corrupt_jpeg(f))
    (root/'sad'/'cut.jpg').write_bytes(jpg[:len(jpg) // 2])
    (root/'sad'/'no end marker.jpg').write_bytes(jpg[:-2])
    (root/'sad'/'huge.png').write_bytes(bomb_png(100_000, 100_000))
    (root/'sad'/'bigger than max_pixels.png').write_bytes(bomb_png(3000, 3000))   # 9 M > the test's max_pixels
    outside.mkdir(parents=True, exist_ok=True); (outside/'secret.jpg').write_bytes(jpg)
    (root/'sad'/'link outside.jpg').symlink_to(outside/'secret.jpg')
    (root/'sad'/'link to outside folder').symlink_to(outside)
    (root/'sad'/'broken link.jpg').symlink_to(root/'sad'/'gone.jpg')
    (root/'sad'/'loop.jpg').symlink_to(root/'sad'/'loop2.jpg'); (root/'sad'/'loop2.jpg').symlink_to(root/'sad'/'loop.jpg')
    os.mkfifo(root/'sad'/'a fifo.jpg')
    (root/'happy'/'link inside.jpg').symlink_to(root/'happy'/'ok.jpg')
    for junk in ('.DS_Store', 'Thumbs.db', 'desktop.ini', '.hidden face.jpg', '._ok.jpg'): (root/'happy'/junk).write_bytes(jpg)
    (root/'.git').mkdir(); (root/'.git'/'x.jpg').write_bytes(jpg)
    (root/'__MACOSX'/'happy').mkdir(parents=True); (root/'__MACOSX'/'happy'/'._ok.jpg').write_bytes(b'\0\5\x16\7')
    (root/'README.txt').write_text('a file outside any class folder\n')


@pytest.fixture(scope='module')
def messy(tmp_path_factory):
    "The messy raw_root scanned by 2 worker processes (the pool is forced: small jobs would run in-process)."
    base = tmp_path_factory.mktemp('messy'); raw = base/'raw'
    build_raw(raw, base/'outside')
    before = tree_hash(raw)
    cfg = RunConfig(raw_root=str(raw), out_dir=str(base/'out'), max_pixels=4_000_000, progress=False, workers=2)
    small, ingest._MIN_POOL = ingest._MIN_POOL, 0
    try: df = scan_raw_root(cfg)
    finally: ingest._MIN_POOL = small
    return dict(raw=raw, cfg=cfg, df=df, q=load_quarantine(cfg.out), before=before)


def test_in_process_scan_gives_the_same_tables(messy, tmp_path):
    cfg = messy['cfg'].updated(out_dir=str(tmp_path/'out'), workers=1)
    df = scan_raw_root(cfg)
    assert df.equals(messy['df']) and load_quarantine(cfg.out).equals(messy['q'])


def test_bad_files_are_quarantined_with_their_reason(messy):
    q = messy['q']
    assert dict(zip(q.path, q.reason)) == BAD
    assert (q.detail.str.len() > 0).all()
    assert 'points to' in q.set_index('path').loc['sad/link outside.jpg', 'detail']
    assert q.equals(pd.DataFrame(list(messy['df'].attrs['quarantine']), columns=['path', 'reason', 'detail']))


def test_odd_files_are_read_with_the_right_pixels(messy):
    df = messy['df'].set_index('orig_id')
    for rel, (_, gray, mode) in expected_odd(face()).items():
        assert rel in df.index, rel
        r = df.loc[rel]
        assert r.label == rel.split('/')[0], rel
        assert (r.width, r.height) == (gray.shape[1], gray.shape[0]), rel
        assert r['mode'] == mode, (rel, r['mode'])
        assert r.sha1 == sha1_of(gray), f'{rel}: converted pixels differ'
    assert df.loc['Surprise /ok.jpg', 'label'] == 'surprise'                     # label normalised
    assert df.loc['fear/exif rotated.png', ['width', 'height']].tolist() == [48, 30]


def test_skipped_and_linked_files(messy):
    ids = set(messy['df'].orig_id)
    assert not any('/.' in i or i.startswith(('.', '__MACOSX')) or 'Thumbs.db' in i or 'desktop.ini' in i for i in ids)
    assert 'happy/link inside.jpg' in ids                                          # a link inside raw_root is read
    row = messy['df'].set_index('orig_id').loc[['happy/ok.jpg', 'happy/link inside.jpg']]
    assert row.dup_group.nunique() == 1 and row.near_group.nunique() == 1
    assert not any(i.startswith('README') for i in ids)


def test_table_contract_and_raw_root_untouched(messy):
    df = messy['df']
    assert list(df.columns) == ORIGINALS_COLUMNS
    assert df.orig_id.is_monotonic_increasing and df.orig_id.is_unique
    assert set(df.split) == {''}
    assert df.phash.str.fullmatch('[0-9a-f]{16}').all() and df.sha1.str.fullmatch('[0-9a-f]{40}').all()
    assert all(Path(p).is_absolute() and Path(p).exists() for p in df.file_path)
    assert tree_hash(messy['raw']) == messy['before']
    assert not any(messy['raw'].rglob('*.tmp'))
    assert load_originals(messy['cfg'].out).equals(df)


def test_rerun_reads_only_changed_files(messy, tmp_path):
    raw = tmp_path/'raw'; shutil.copytree(messy['raw'], raw, symlinks=True, ignore=lambda d, names: [n for n in names if 'fifo' in n])
    cfg = messy['cfg'].updated(raw_root=str(raw), out_dir=str(tmp_path/'out'))
    a = scan_raw_root(cfg)
    n_files = a.attrs['scan']['files']
    b = scan_raw_root(cfg)
    assert b.attrs['scan']['read'] == 0 and b.attrs['scan']['cached'] == n_files
    assert b.equals(a)
    f = raw/'happy'/'ok.jpg'; f.write_bytes(enc(face().transpose(Image.Transpose.FLIP_LEFT_RIGHT), 'JPEG'))
    (raw/'fear'/'new.png').write_bytes(enc(face(40), 'PNG'))
    c = scan_raw_root(cfg)
    assert c.attrs['scan']['read'] == 2, c.attrs['scan']
    assert c.set_index('orig_id').loc['happy/ok.jpg', 'sha1'] != a.set_index('orig_id').loc['happy/ok.jpg', 'sha1']
    assert len(c) == len(a) + 1


def test_unreadable_file_is_quarantined(tmp_path, monkeypatch):
    """We run as root, for whom chmod 000 changes nothing: the permission error is raised where the scan opens
    the file (the module's `open`), exactly as the OS raises it for another user."""
    raw = tmp_path/'raw'; (raw/'happy').mkdir(parents=True)
    (raw/'happy'/'ok.png').write_bytes(enc(face(), 'PNG')); (raw/'happy'/'locked.png').write_bytes(enc(face(), 'PNG'))
    os.chmod(raw/'happy'/'locked.png', 0)
    real_open = builtins.open
    def guarded(p, *a, **k):
        if os.geteuid() == 0 and str(p).endswith('locked.png'): raise PermissionError(13, 'Permission denied', str(p))
        return real_open(p, *a, **k)
    monkeypatch.setattr(ingest, 'open', guarded, raising=False)
    cfg = RunConfig(raw_root=str(raw), out_dir=str(tmp_path/'out'), progress=False, workers=1)
    df = scan_raw_root(cfg)
    q = load_quarantine(cfg.out)
    assert q.values.tolist() == [['happy/locked.png', 'unreadable', 'permission denied: Permission denied']]
    assert df.orig_id.tolist() == ['happy/ok.png']
    # unreadable results are never cached: once readable, the file is read
    monkeypatch.undo(); os.chmod(raw/'happy'/'locked.png', 0o644)
    assert len(scan_raw_root(cfg)) == 2


def test_errors_name_the_problem(tmp_path):
    cfg = RunConfig(out_dir=str(tmp_path/'out'), progress=False)
    with pytest.raises(InputError, match='does not exist'): scan_raw_root(cfg.updated(raw_root=str(tmp_path/'nope')))
    (tmp_path/'empty').mkdir(); (tmp_path/'empty'/'.DS_Store').write_bytes(b'')
    with pytest.raises(InputError, match='is empty'): scan_raw_root(cfg.updated(raw_root=str(tmp_path/'empty')))
    raw = tmp_path/'raw'; (raw/'happy').mkdir(parents=True); (raw/'disgust').mkdir()
    (raw/'happy'/'a.png').write_bytes(enc(face(), 'PNG')); (raw/'disgust'/'bad.jpg').write_text('x')
    with pytest.raises(InputError, match=r"no valid image: 'disgust' \(1 file\(s\) quarantined\)"):
        scan_raw_root(cfg.updated(raw_root=str(raw)))
    assert load_quarantine(cfg.out).path.tolist() == ['disgust/bad.jpg']        # written before the error
    with pytest.raises(InputError, match='inside raw_root'): scan_raw_root(cfg.updated(raw_root=str(raw), out_dir=str(raw/'o')))


def test_duplicates_and_label_conflicts(tmp_path):
    raw = tmp_path/'raw'; f = face()
    for lab, name, im in [('happy', 'a.png', f), ('sad', 'a copy.png', f), ('happy', 'b.png', f.transpose(Image.Transpose.ROTATE_90)),
                          ('happy', 'c.jpg', f)]:
        (raw/lab).mkdir(parents=True, exist_ok=True); (raw/lab/name).write_bytes(enc(im, 'PNG' if name.endswith('png') else 'JPEG', **({'quality': 95} if name.endswith('jpg') else {})))
    df = scan_raw_root(RunConfig(raw_root=str(raw), out_dir=str(tmp_path/'out'), progress=False)).set_index('orig_id')
    assert df.loc['happy/a.png', 'dup_group'] == df.loc['sad/a copy.png', 'dup_group'] == 'happy/a.png'
    assert df.loc['happy/c.jpg', 'dup_group'] == 'happy/c.jpg'                 # JPEG noise: not pixel-identical...
    assert df.loc['happy/c.jpg', 'near_group'] == 'happy/a.png'                # ...but a near duplicate
    assert df.label_conflict.to_dict() == {'happy/a.png': True, 'happy/b.png': False, 'happy/c.jpg': True, 'sad/a copy.png': True}
    lc = label_conflict_groups(df.reset_index())
    assert lc.values.tolist() == [['happy/a.png', 3, 'happy:2|sad:1', False, 'happy/a.png|happy/c.jpg|sad/a copy.png']]


# ---------------------------------------------------------------- the FER2013 CSV
def fer_csv_text(rows, header='emotion,pixels,Usage', nl='\n'):
    return header + nl + ''.join(r + nl for r in rows)

def px(a): return ' '.join(map(str, np.asarray(a).reshape(-1)))

def test_fer_csv_malformed_rows_are_quarantined_by_line(tmp_path):
    g = np.asarray(face()); ok = px(g)
    rows = [f'3,{ok},Training', f'0,"{ok}",PublicTest', '', f'7,{ok},Training', f'3,{ok[:-40]},Training',
            f'x,{ok},Training', f'3,{ok},Training,extra', f'3,{ok.replace("1", "a", 1)},Training', f'3,{ok},Nope',
            f'6,{ok},PrivateTest', f'3,{ok[:1000]}']
    d = tmp_path/'data'; d.mkdir()
    (d/'my fer.csv').write_bytes(('\ufeff' + fer_csv_text(rows, nl='\r\n')).encode())   # BOM and CRLF, as Excel writes it
    before = tree_hash(d)
    cfg = RunConfig(raw_root=str(d), out_dir=str(tmp_path/'out'), progress=False)
    df = scan_raw_root(cfg)
    assert tree_hash(d) == before
    assert df.orig_id.tolist() == ['my fer.csv#row=0', 'my fer.csv#row=1', 'my fer.csv#row=8']
    assert df.label.tolist() == ['happy', 'angry', 'neutral'] and df.split.tolist() == ['train', 'val', 'test']
    assert (df.sha1 == sha1_of(g)).all() and (df.dup_group == 'my fer.csv#row=0').all()
    for fp in df.file_path:
        with Image.open(fp) as im: assert im.mode == 'L' and np.array_equal(np.asarray(im), g)
    q = load_quarantine(cfg.out)
    assert q.path.tolist() == [f'my fer.csv#row={i}' for i in (2, 3, 4, 5, 6, 7, 9)]
    assert set(q.reason) == {'csv_malformed'}
    lines = q.detail.str.extract(r'^line (\d+):')[0].astype(int).tolist()
    assert lines == [5, 6, 7, 8, 9, 10, 12]                                     # header is line 1, the blank line 4
    assert 'emotion index' in q.detail[0] and f'{len(ok[:-40].split())} pixel values' in q.detail[1] and '4 fields' in q.detail[3]


def test_fer_csv_without_usage_and_as_a_file(tmp_path):
    g = np.asarray(face())
    (tmp_path/'data').mkdir(); f = tmp_path/'data'/'fer2013.csv'; f.write_text(fer_csv_text([f'3,{px(g)}', f'4,{px(255 - g)}'], header='pixels,emotion').replace(f'3,{px(g)}', f'{px(g)},3').replace(f'4,{px(255 - g)}', f'{px(255 - g)},4'))
    cfg = RunConfig(raw_root=str(f), out_dir=str(tmp_path/'out'), progress=False, label_map={'sad': 'sorrow'})
    df = scan_raw_root(cfg)
    assert df.label.tolist() == ['happy', 'sorrow'] and set(df.split) == {''}
    assert df.file_path.tolist() == [str(tmp_path/'out'/'originals_csv'/'all'/'happy'/'row00000.png'),
                                     str(tmp_path/'out'/'originals_csv'/'all'/'sorrow'/'row00001.png')]
    with pytest.raises(InputError, match='must name the columns emotion and pixels'):
        (tmp_path/'data'/'b.csv').write_text('a,b\n1,2\n'); scan_raw_root(cfg.updated(raw_root=str(tmp_path/'data'/'b.csv')))


# ---------------------------------------------------------------- real faces, every layout
def test_fer_sample_in_every_layout(tmp_path):
    before = tree_hash(FER)
    a = scan_raw_root(RunConfig(raw_root=str(FER), out_dir=str(tmp_path/'o1'), progress=False))
    assert len(a) == 210 and a.label.value_counts().to_dict() == {l: 30 for l in FER_LABELS}
    sp = tmp_path/'splits'
    for i, r in a.iterrows():
        s = ('Training', 'Training', 'PublicTest', 'PrivateTest')[i % 4]
        (sp/s/r.label.upper()).mkdir(parents=True, exist_ok=True); os.link(r.file_path, sp/s/r.label.upper()/Path(r.file_path).name)
    b = scan_raw_root(RunConfig(raw_root=str(sp), out_dir=str(tmp_path/'o2'), progress=False))
    assert b.split.value_counts().to_dict() == {'train': 106, 'val': 52, 'test': 52}    # 210 = 52 * 4 + 2
    assert sorted(b.label) == sorted(a.label) and sorted(b.phash) == sorted(a.phash)
    (tmp_path/'csv').mkdir()
    with open(tmp_path/'csv'/'fer2013.csv', 'w') as f:
        f.write('emotion,pixels,Usage\n')
        for _, r in a.iterrows(): f.write(f"{FER_LABELS.index(r.label)},{px(Image.open(r.file_path).convert('L'))},Training\n")
    c = scan_raw_root(RunConfig(raw_root=str(tmp_path/'csv'/'fer2013.csv'), out_dir=str(tmp_path/'o3'), progress=False))
    assert sorted(c.sha1) == sorted(a.sha1) and sorted(c.phash) == sorted(a.phash)
    assert c.groupby('label').size().to_dict() == a.groupby('label').size().to_dict()
    assert tree_hash(FER) == before


def test_ingest_does_not_import_torch_or_diffusers():
    code = ('import sys, facesynth_nb.ingest, facesynth_nb.plan, facesynth_nb.prompts; '
            'print(sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules))')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]'


# ---------------------------------------------------------------- fuzzing
SEEDS = [enc(face(), 'JPEG'), enc(face(), 'PNG'), enc(face().convert('RGB'), 'GIF'), enc(face(), 'BMP'), enc(face(), 'TIFF')]

@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2000),
                 st.tuples(st.sampled_from(SEEDS), st.integers(0, 4000), st.binary(min_size=1, max_size=64), st.integers(0, 3))))
@example(b'\xff\xd8\xff')                     # JPEG start of image and nothing else
@example(b'\x89PNG\r\n\x1a\n')                # PNG signature and nothing else
@example(b'GIF89a')
def test_image_reader_never_crashes(x):
    "Random bytes and mutated valid files: the reader returns an L image or raises BadFile, nothing else."
    if isinstance(x, tuple):
        src, pos, junk, how = x; pos = min(pos, len(src))
        x = [src[:pos] + junk + src[pos:], src[:pos] + junk + src[pos + len(junk):], src[:pos], src[pos:] + junk][how]
    try: g, mode = read_gray(x, 1_000_000)
    except BadFile as e: assert e.reason in ingest.QUARANTINE_REASONS
    else: assert g.mode == 'L' and g.width * g.height <= 1_000_000


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=60),
                          st.builds(lambda e, n, u: f'{e},{" ".join(["7"] * n)},{u}', st.sampled_from(['0', '3', '6', '7', '-1', ' 2']),
                                    st.sampled_from([2304, 2303, 0, 2305]), st.sampled_from(['Training', 'PublicTest', 'x', '']))),
                max_size=12))
@example(['3,"1 2', '3'])                       # an unterminated quote running to the end of the file
@example(['\x00,\x00,\x00'])
def test_fer_csv_reader_never_crashes(tmp_path_factory, lines):
    "Every data row of a fuzzed CSV ends up either in the table or in the quarantine, never in an exception."
    d = tmp_path_factory.mktemp('fuzz'); (d/'raw').mkdir()
    (d/'raw'/'fer2013.csv').write_text('emotion,pixels,Usage\n' + '\n'.join(lines) + '\n', encoding='utf-8', errors='surrogatepass')
    cfg = RunConfig(raw_root=str(d/'raw'/'fer2013.csv'), out_dir=str(d/'out'), progress=False, workers=1)
    has_usage, rows = ingest.read_fer_csv(d/'raw'/'fer2013.csv'); n_rows = len(list(rows))
    try: df = scan_raw_root(cfg)
    except InputError as e:
        assert 'no readable image' in str(e); df = pd.DataFrame({'orig_id': []})
    q = load_quarantine(cfg.out)
    assert len(df) + len(q) == n_rows
    assert set(q.reason) <= {'csv_malformed'}
    assert set(df.orig_id).isdisjoint(q.path)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 80), st.integers(1, 80), st.integers(1, 4), st.integers(0, 2**32 - 1), st.sampled_from([4, 8, 16]))
@example(48, 48, 1, 0, 8)                        # a flat image: every AC coefficient ties at 0
def test_phash_many_is_imagehash_bit_for_bit(w, h, levels, seed, hash_size):
    "Random images of random sizes, with few gray levels to provoke ties at the median."
    import imagehash
    rng = np.random.default_rng(seed)
    vals = rng.choice(256, size=levels, replace=False).astype(np.uint8)
    ims = [Image.fromarray(vals[rng.integers(0, levels, (h, w))]) for _ in range(3)]
    assert ingest.phash_many(ims, hash_size) == [str(imagehash.phash(im, hash_size=hash_size)) for im in ims]
