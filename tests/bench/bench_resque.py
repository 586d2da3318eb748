"""Reference side of bench_resque.sh: fixture generation, numpy per-class
sums, and scikit-learn's KMeans (seeded with the class centroids) plus
adjusted_rand_score, timed in this process. Run with Debian's python3."""
import json, resource, sys, time, warnings
import numpy as np


def gen(out, n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.3, (k, d))
    y = rng.integers(0, k, n)
    X = np.empty((n, d), np.float32)
    for s in range(0, n, 10000):  # in chunks: keep the generator's memory small
        e = min(n, s + 10000)
        X[s:e] = centres[y[s:e]] + rng.normal(0, 3, (e - s, d))
    np.save(out + '/emb.npy', X)
    np.save(out + '/labels.npy', y.astype(np.int64))


def sums(out):
    X = np.load(out + '/emb.npy', mmap_mode='r'); y = np.load(out + '/labels.npy')
    t = time.perf_counter()
    S = np.stack([X[y == c].sum(axis=0, dtype=np.float64) for c in np.unique(y)])
    dt = time.perf_counter() - t
    print(json.dumps({'seconds': dt, 'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


def task(out):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    X = np.load(out + '/emb.npy'); y = np.load(out + '/labels.npy')
    t0 = time.perf_counter()
    labs = np.unique(y)
    cent = np.stack([X[y == v].astype(np.float64).mean(axis=0) for v in labs])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        km = KMeans(n_clusters=len(labs), init=cent, n_init=1).fit(X)
    ari = adjusted_rand_score(y, km.labels_)
    dt = time.perf_counter() - t0
    np.savetxt(out + '/sklearn.txt', km.labels_, fmt='%d')
    print(json.dumps({'seconds': dt, 'ari': ari, 'iterations': int(km.n_iter_),
                      'rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'gen':
        gen(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == 'sums':
        sums(sys.argv[2])
    else:
        task(sys.argv[2])
