"""Exploration for the trained scorer: candidate features and learners under grouped CV.

    .venv/bin/python benchmarks/scorer_study.py ../shared/data/semeval8/dev_pairs.jsonl

Computes a wide table of candidate pair features (both encoders, CSLS, sentence alignment,
names by kind, dates, numbers, lengths), then prints each feature's Pearson with gold Overall
and grouped 5-fold CV (several seeds) of learner/feature-set variants.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

from storylink.compare import Comparer
from storylink.dates import shared_dates, shared_numbers
from storylink.encode import EncoderSet
from storylink.entities import shared_names
from storylink.evaluate import grouped_folds, load_pairs, pearson
from storylink.paths import cache_dir

DIMENSIONS = ("overall", "geography", "entities", "time", "narrative", "style", "tone")


def csls_radius(vectors: dict[str, np.ndarray], languages: dict[str, str], k: int = 10):
    ids = list(vectors)
    matrix = np.vstack([vectors[i] for i in ids])
    sims = matrix @ matrix.T
    np.fill_diagonal(sims, -np.inf)
    radius: dict[tuple[str, str], float] = {}
    langs = sorted(set(languages.values()))
    for lang in langs + ["*"]:
        cols = [j for j, i in enumerate(ids) if lang == "*" or languages[i] == lang]
        sub = sims[:, cols]
        top = -np.sort(-sub, axis=1)[:, :k]
        for row, i in enumerate(ids):
            radius[(i, lang)] = float(np.mean(top[row][np.isfinite(top[row])]))
    return radius


def features(path: Path) -> tuple[list, list[dict[str, float]]]:
    pairs = load_pairs(path)
    encoders = EncoderSet(cache_dir() / "embeddings.sqlite")
    comparer = Comparer(encoders=encoders)
    prepared = {}
    for p in pairs:
        for art in (p.a, p.b):
            prepared.setdefault(art.id, comparer.prepare(art))
    vec = {}
    for name in ("use-m3", "e5-small"):
        enc = encoders.encoder(name)
        for i, pa in prepared.items():
            vec[(name, i)] = comparer.vectors(pa, enc)
        print(f"encoded {name}", file=sys.stderr)
    langs = {i: pa.language for i, pa in prepared.items()}
    radii = {}
    for name in ("use-m3", "e5-small"):
        for kind in ("document", "title"):
            vs = {}
            for i in prepared:
                v = vec[(name, i)]
                vv = v.document_vector if kind == "document" else v.title_vector
                vs[i] = v.document_vector if vv is None else vv
            radii[(name, kind)] = csls_radius(vs, langs)
    rows = []
    for p in pairs:
        pa, pb = prepared[p.a.id], prepared[p.b.id]
        f: dict[str, float] = {}
        for name, short in (("use-m3", "use"), ("e5-small", "e5")):
            va, vb = vec[(name, p.a.id)], vec[(name, p.b.id)]
            sim = va.sentence_vectors @ vb.sentence_vectors.T
            doc = float(va.document_vector @ vb.document_vector)
            ta = va.title_vector if va.title_vector is not None else va.document_vector
            tb = vb.title_vector if vb.title_vector is not None else vb.document_vector
            title = float(ta @ tb)
            f[f"{short}_doc"] = doc
            f[f"{short}_title"] = title
            f[f"{short}_mean"] = float(va.sentence_mean_vector @ vb.sentence_mean_vector)
            f[f"{short}_title_doc"] = float(ta @ vb.document_vector + tb @ va.document_vector) / 2
            best_a, best_b = sim.max(axis=1), sim.max(axis=0)
            f[f"{short}_best_mean"] = float(best_a.mean() + best_b.mean()) / 2
            f[f"{short}_best_min"] = float(min(best_a.mean(), best_b.mean()))
            top = np.sort(sim.ravel())[::-1]
            f[f"{short}_top1"] = float(top[0])
            f[f"{short}_top3"] = float(top[:3].mean())
            f[f"{short}_lead"] = float(sim[: min(3, sim.shape[0]), : min(3, sim.shape[1])].max())
            for kind, value in (("document", doc), ("title", title)):
                r = radii[(name, kind)]
                csls = 2 * value - r[(p.a.id, pb.language)] - r[(p.b.id, pa.language)]
                f[f"{short}_{kind}_csls"] = csls
                f[f"{short}_{kind}_csls_all"] = 2 * value - r[(p.a.id, "*")] - r[(p.b.id, "*")]
        names = shared_names(pa.names, pb.names)
        dates = shared_dates(pa.dates, pb.dates)
        numbers = shared_numbers(pa.numbers, pb.numbers)
        na, nb = len(pa.names.mentions), len(pb.names.mentions)
        for kind in ("person", "place", "organisation"):
            cnt = sum(n.kind == kind for n in names)
            ka = sum(m.kind == kind for m in pa.names.mentions)
            kb = sum(m.kind == kind for m in pb.names.mentions)
            f[f"shared_{kind}"] = min(1.0, cnt / max(1, min(ka, kb)))
            f[f"shared_{kind}_n"] = float(np.log1p(cnt))
        f["shared_names"] = min(1.0, len(names) / max(1, min(na, nb)))
        f["shared_names_n"] = float(np.log1p(len(names)))
        f["shared_places_jacc"] = len(set(pa.names.places) & set(pb.names.places)) / max(
            1, len(set(pa.names.places) | set(pb.names.places))
        )
        f["shared_dates"] = min(3.0, float(len(dates)))
        f["dates_both"] = float(bool(pa.dates) and bool(pb.dates))
        f["dates_conflict"] = float(bool(pa.dates) and bool(pb.dates) and not dates)
        f["shared_numbers"] = min(1.0, len(numbers) / max(1, min(len(pa.numbers), len(pb.numbers))))
        f["shared_numbers_n"] = float(np.log1p(len(numbers)))
        da, db = pa.article.published, pb.article.published
        gap = abs((da - db).total_seconds()) / 86400 if da and db else 0.0
        f["gap_log"] = float(np.log1p(gap))
        f["gap_week"] = float(gap > 7)
        f["dates_known"] = float(bool(da and db))
        f["same_language"] = float(pa.language == pb.language)
        la, lb = len(pa.article.text), len(pb.article.text)
        f["length_ratio"] = float(np.log((1 + min(la, lb)) / (1 + max(la, lb))))
        f["short"] = float(min(la, lb) < 400)
        f["sentences_min"] = float(
            np.log1p(
                min(len(vec[("use-m3", p.a.id)].sentences), len(vec[("use-m3", p.b.id)].sentences))
            )
        )
        rows.append(f)
    return pairs, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--table", type=Path, default=Path("/tmp/scorer_features.pkl"))
    args = parser.parse_args()
    if args.table.exists():
        pairs, rows = pickle.loads(args.table.read_bytes())
    else:
        pairs, rows = features(args.pairs)
        args.table.write_bytes(pickle.dumps((pairs, rows)))
    gold = np.array([p.scores["overall"] for p in pairs])
    for name in rows[0]:
        print(f"{name:24s} {-pearson([r[name] for r in rows], gold):+.3f}")


if __name__ == "__main__":
    main()


def cv_predict(make, x: np.ndarray, y: np.ndarray, pairs, seed: int) -> np.ndarray:
    out = np.zeros(len(y))
    for fold in grouped_folds(pairs, 5, seed):
        test = np.zeros(len(y), dtype=bool)
        test[fold] = True
        mu, sd = x[~test].mean(0), x[~test].std(0) + 1e-9
        model = make()
        model.fit((x[~test] - mu) / sd, y[~test])
        out[test] = model.predict((x[test] - mu) / sd)
    return out


def study(pairs, rows, sets, learners, seeds=5) -> None:
    gold = np.array([p.scores["overall"] for p in pairs])
    for set_name, names in sets.items():
        x = np.array([[r[n] for n in names] for r in rows])
        for learner_name, make in learners.items():
            scores = [pearson(cv_predict(make, x, gold, pairs, s), gold) for s in range(seeds)]
            print(
                f"{set_name:28s} {learner_name:14s} {np.mean(scores):.3f} ({min(scores):.3f}-{max(scores):.3f})"
            )
