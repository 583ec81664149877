#!/usr/bin/env python3
"""EDC of two borderline sets under several linear-SVM stops (issue 19 item 3).

Same embeddings (the authors' CNN, relu(fc1)), same training images of s and t, same points;
only LinearSVC's solver / tolerance / iteration cap vary: scikit-learn's default (the authors'
call: dual="auto" → primal Newton, tol 1e-4), the dual at 1e-3 capped at 1000 (Borderline before
2026-12-03), the dual at 1e-4 and the primal at 1e-8 (the optimum). Sets as in
tools/deepdig_authors_gap.py (RUN:group or a --save file of tools/deepdig_torch_reference.py):

    python3 tools/deepdig_edc_solvers.py RUN:deepdig/pair_1_2/deepdig RUN:deepdig/pair_2_1/deepdig [OUT.json]
"""
import sys, warnings, json, numpy as np, torch, h5py
sys.path.insert(0, __import__('os').path.dirname(__file__))
from deepdig_authors_gap import CNN, idx, load_set
from sklearn import svm
if len(sys.argv) < 3 or sys.argv[1] in ('-h', '--help'):
    print(__doc__); sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ('-h', '--help') else 2)
torch.set_num_threads(1)
model = CNN(h5py.File('/work/shared/fixtures/authors-cnn/state_dict.h5')).eval()
root = '/usr/share/datasets/fashion-mnist/'
def split(a, b):
    return torch.tensor(idx(root + a), dtype=torch.float32).reshape(-1, 784) / 255, idx(root + b).astype(np.int64)
Xtr, Ytr = split('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz')
Xte, Yte = split('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')
emb = lambda x: torch.cat([model(x[i:i + 4096])[1] for i in range(0, len(x), 4096)]).detach().numpy()
s, t = 1, 2
tr = (Ytr == s) | (Ytr == t); te = (Yte == s) | (Yte == t)
Etr, Ete = emb(Xtr[torch.tensor(tr)]), emb(Xte[torch.tensor(te)])
st, ts = load_set(sys.argv[1]), load_set(sys.argv[2])
Eb = np.concatenate([emb(torch.tensor(st)), emb(torch.tensor(ts))]); yb = np.array([s] * len(st) + [t] * len(ts))
out = {}
for name, kw in [('sklearn default: primal tol 1e-4', dict(dual=False, tol=1e-4, max_iter=10000)),
                 ('dual tol 1e-3, cap 1000 (old Borderline)', dict(dual=True, tol=1e-3, max_iter=1000)),
                 ('dual tol 1e-4, cap 10000', dict(dual=True, tol=1e-4, max_iter=10000)),
                 ('primal tol 1e-8 (optimum)', dict(dual=False, tol=1e-8, max_iter=10000))]:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        c = svm.LinearSVC(C=1, **kw).fit(Etr, Ytr[tr])
    w = np.linalg.norm(c.coef_)
    def edc(e, y):
        d = np.abs(c.decision_function(e)) / w
        return round(float(d.mean() / (1 + d.mean())), 4), round(float(100 * np.mean(c.predict(e) == y)), 2)
    out[name] = dict(n_iter=int(c.n_iter_), test=edc(Ete, Yte[te]), borderline_pooled=edc(Eb, yb), s_t=edc(Eb[:len(st)], yb[:len(st)]), t_s=edc(Eb[len(st):], yb[len(st):]))
    print(name, out[name], flush=True)
if len(sys.argv) > 3: json.dump(out, open(sys.argv[3], 'w'), indent=1)
