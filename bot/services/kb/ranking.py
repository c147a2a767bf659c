"""In-memory KB index: BM25F over title/tags/body with query cleanup, bounded feedback and confidence.

The index is a pure function of the set of articles it holds: the same articles give the same scores and
the same order on every replica, whatever the insertion order (ties are broken by article id). Writes are
O(article length); per-term score tables are cached lazily and dropped on the next write.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from bot.services.kb import text as _text

__all__ = [
    "ArticleDoc",
    "ConfidenceModel",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_PARAMS",
    "KBIndex",
    "RankingParams",
    "SearchHit",
    "feedback_multiplier",
    "query_feedback_terms",
]

_log = logging.getLogger(__name__)

_TITLE, _BODY, _TAGS = 0, 1, 2
_BIGRAM_SEP = " "
_MAX_QUERY_TOKENS = 256
_MAX_TYPO_FIXES = 8  # unknown words per query that get typo / compound repair (bounds hostile input)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_MAX_GROUP_TABLES = 512  # cached merged tables of multi-variant groups (related words, languages)
_EPS = 2e-9  # safety margin for pruning decisions (scores are rounded to 1e-9 before ordering)


@dataclass(frozen=True, slots=True)
class ArticleDoc:
    """One KB article as the ranking sees it (the DB layer builds it; body = problem + solution)."""

    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    language: str = "en"
    visibility: str = "public"
    helped: int = 0
    not_relevant: int = 0
    #: Per-query-term feedback: (term, helped, not_relevant); terms come from ``query_feedback_terms``.
    query_feedback: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A ranked article: score (BM25F x feedback), confidence in [0, 1] and its label high/medium/low."""

    id: str
    score: float
    confidence: float
    label: str


@dataclass(frozen=True, slots=True)
class RankingParams:
    """Tunable knobs of the ranking; the defaults are the values tuned on the stackfaq dev split."""

    k1: float = 5.0
    b_title: float = 0.3
    b_body: float = 0.9
    b_tags: float = 0.3
    w_title: float = 10.0
    w_body: float = 1.0
    w_tags: float = 5.0
    bigram_weight: float = 0.0
    related_weight: float = 0.6
    compound_weight: float = 0.5
    foreign_language_factor: float = 0.7
    concat_weight: float = 1.0
    typo: bool = True
    typo_weight: float = 0.7
    decompound: bool = True
    decompound_weight: float = 0.6
    synonyms: bool = True
    cross_language: bool = True
    query_cleanup: bool = True
    max_query_terms: int = 32
    feedback_prior: float = 5.0
    feedback_min: float = 0.8
    feedback_max: float = 1.25
    query_feedback_weight: float = 2.0


DEFAULT_PARAMS = RankingParams()


@dataclass(frozen=True, slots=True)
class ConfidenceModel:
    """Logistic model P(hit is the right article) over scale-free score features, plus label cut-offs."""

    intercept: float = -8.484
    w_norm_score: float = 0.399
    w_rel_to_best: float = 6.769
    w_gap_next: float = 4.295
    w_coverage: float = 2.748
    high: float = 0.704
    medium: float = 0.523

    def probability(self, norm_score: float, rel_to_best: float, gap_next: float, coverage: float) -> float:
        """Map the hit features to a probability in [0, 1]."""
        z = (
            self.intercept
            + self.w_norm_score * norm_score
            + self.w_rel_to_best * rel_to_best
            + self.w_gap_next * gap_next
            + self.w_coverage * coverage
        )
        z = max(-30.0, min(30.0, z))
        return 1.0 / (1.0 + math.exp(-z))

    def label(self, confidence: float) -> str:
        """Bucket a confidence into "high", "medium" or "low"."""
        if confidence >= self.high:
            return "high"
        if confidence >= self.medium:
            return "medium"
        return "low"


DEFAULT_CONFIDENCE = ConfidenceModel()


def feedback_multiplier(helped: float, not_relevant: float, params: RankingParams = DEFAULT_PARAMS) -> float:
    """Bounded score multiplier from feedback votes: Beta-prior mean mapped to [feedback_min, feedback_max]."""
    h = max(0.0, float(helped))
    n = max(0.0, float(not_relevant))
    a = params.feedback_prior
    p = (h + a) / (h + n + 2.0 * a)
    if p >= 0.5:
        return 1.0 + (p - 0.5) * 2.0 * (params.feedback_max - 1.0)
    return 1.0 - (0.5 - p) * 2.0 * (1.0 - params.feedback_min)


def query_feedback_terms(query: str, *, max_terms: int = 32) -> tuple[str, ...]:
    """Terms under which a click on a result for this query is recorded (stems, sorted, unique)."""
    if not isinstance(query, str):
        return ()
    cleaned = _text.clean_chat_noise(query)
    lang = _text.guess_language(cleaned)
    terms = sorted({s for s, extra in _text.analyze(cleaned, lang, query=True) if not extra})
    return tuple(terms[:max_terms])


@dataclass(slots=True)
class _Entry:
    doc: ArticleDoc
    lengths: tuple[int, int, int]
    terms: dict[str, tuple[int, int, int]]
    multiplier: float
    qfeedback: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Group:
    weight: float
    variants: tuple[str, ...]
    vweights: tuple[float, ...]  # per-variant discount (1.0 for the word itself, less for related words)
    primary: bool  # a plain query word (counts for coverage / feedback), not a bigram or concat extra


def _query_feedback_map(doc: ArticleDoc) -> dict[str, tuple[int, int]]:
    """term -> (helped, not_relevant), summing duplicate terms and clamping negatives to zero."""
    out: dict[str, tuple[int, int]] = {}
    for term, h, n in doc.query_feedback:
        ph, pn = out.get(term, (0, 0))
        out[term] = (ph + max(0, int(h)), pn + max(0, int(n)))
    return out


def _doc_language(doc: ArticleDoc) -> str:
    return doc.language if doc.language in _text.ANALYZED_LANGUAGES else "en"


class KBIndex:
    """Inverted index over ArticleDocs with deterministic BM25F ranking and cheap single-article updates."""

    def __init__(
        self,
        docs: Iterable[ArticleDoc] = (),
        *,
        params: RankingParams | None = None,
        confidence: ConfidenceModel | None = None,
    ) -> None:
        """Create an index, optionally filled with docs."""
        self.params = params or DEFAULT_PARAMS
        self.confidence = confidence or DEFAULT_CONFIDENCE
        self._entries: dict[str, _Entry] = {}
        self._postings: dict[str, dict[str, tuple[int, int, int]]] = {}
        self._len_sum = [0, 0, 0]
        self._languages: Counter[str] = Counter()
        self._qfb: dict[str, dict[str, tuple[int, int]]] = {}
        self._cache: dict[str, tuple[dict[str, float], float]] = {}
        self._group_cache: dict[
            tuple[tuple[str, ...], tuple[float, ...]], tuple[dict[str, float], float]
        ] = {}
        self._norms: dict[str, tuple[float, float, float]] | None = None
        self._sorted_vocab: list[str] | None = None
        self._sorted_rvocab: list[str] = []
        self._mult_cache: dict[
            tuple[frozenset[str] | None, frozenset[str] | None, str | None], dict[str, float]
        ] = {}
        self._prune = True  # MaxScore pruning; exact, switchable only so tests can compare both paths
        for doc in docs:
            self.upsert(doc)

    # ------------------------------------------------------------------ writes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._entries

    def get(self, doc_id: str) -> ArticleDoc | None:
        """Return the stored ArticleDoc for an id, or None."""
        entry = self._entries.get(doc_id)
        return entry.doc if entry else None

    def ids(self) -> list[str]:
        """All article ids, sorted."""
        return sorted(self._entries)

    def upsert(self, doc: ArticleDoc) -> None:
        """Insert or replace one article (cost proportional to its length; feedback-only changes are O(1))."""
        old = self._entries.get(doc.id)
        if old is not None:
            o = old.doc
            if (o.title, o.body, o.tags, _doc_language(o)) == (
                doc.title,
                doc.body,
                doc.tags,
                _doc_language(doc),
            ):
                self._set_meta(old, doc)  # same text: scores tables stay valid
                return
            self.remove(doc.id)
        lang = _doc_language(doc)
        p = self.params
        title = _text.analyze(doc.title, lang, synonyms=p.synonyms)
        body = _text.analyze(doc.body, lang, synonyms=p.synonyms)
        tags = _text.analyze(" ; ".join(doc.tags), lang, synonyms=p.synonyms)
        counters = (Counter(s for s, _ in title), Counter(s for s, _ in body), Counter(s for s, _ in tags))
        lengths = (
            sum(1 for _, extra in title if not extra),
            sum(1 for _, extra in body if not extra),
            sum(1 for _, extra in tags if not extra),
        )
        if p.bigram_weight > 0:
            counters[_TITLE].update(_text.iter_bigrams(title))
            counters[_BODY].update(_text.iter_bigrams(body))
            counters[_TAGS].update(_text.iter_bigrams(tags))
        terms: dict[str, tuple[int, int, int]] = {}
        for f, counter in enumerate(counters):
            for term, tf in counter.items():
                cur = terms.get(term, (0, 0, 0))
                terms[term] = (
                    cur[0] + (tf if f == _TITLE else 0),
                    cur[1] + (tf if f == _BODY else 0),
                    cur[2] + (tf if f == _TAGS else 0),
                )
        entry = _Entry(
            doc=doc,
            lengths=lengths,
            terms=terms,
            multiplier=feedback_multiplier(doc.helped, doc.not_relevant, p),
            qfeedback=_query_feedback_map(doc),
        )
        self._entries[doc.id] = entry
        for term, tfs in terms.items():
            self._postings.setdefault(term, {})[doc.id] = tfs
        for term, hn in entry.qfeedback.items():
            self._qfb.setdefault(term, {})[doc.id] = hn
        for f in range(3):
            self._len_sum[f] += lengths[f]
        self._languages[lang] += 1
        self._invalidate()

    def update_feedback(
        self,
        doc_id: str,
        *,
        helped: int,
        not_relevant: int,
        query_feedback: tuple[tuple[str, int, int], ...] | None = None,
    ) -> bool:
        """Replace an article's feedback counters without re-indexing its text; False if unknown."""
        entry = self._entries.get(doc_id)
        if entry is None:
            return False
        qf = entry.doc.query_feedback if query_feedback is None else tuple(query_feedback)
        self._set_meta(entry, replace(entry.doc, helped=helped, not_relevant=not_relevant, query_feedback=qf))
        return True

    def _set_meta(self, entry: _Entry, doc: ArticleDoc) -> None:
        """Swap in a doc whose text is unchanged: visibility and feedback only."""
        for term in entry.qfeedback:
            fl = self._qfb.get(term)
            if fl is not None:
                fl.pop(doc.id, None)
                if not fl:
                    del self._qfb[term]
        entry.doc = doc
        entry.multiplier = feedback_multiplier(doc.helped, doc.not_relevant, self.params)
        self._mult_cache.clear()
        entry.qfeedback = _query_feedback_map(doc)
        for term, hn in entry.qfeedback.items():
            self._qfb.setdefault(term, {})[doc.id] = hn

    def remove(self, doc_id: str) -> bool:
        """Remove one article; returns False when it was not indexed."""
        entry = self._entries.pop(doc_id, None)
        if entry is None:
            return False
        for term in entry.terms:
            plist = self._postings.get(term)
            if plist is not None:
                plist.pop(doc_id, None)
                if not plist:
                    del self._postings[term]
        for term in entry.qfeedback:
            fl = self._qfb.get(term)
            if fl is not None:
                fl.pop(doc_id, None)
                if not fl:
                    del self._qfb[term]
        for f in range(3):
            self._len_sum[f] -= entry.lengths[f]
        lang = _doc_language(entry.doc)
        self._languages[lang] -= 1
        if self._languages[lang] <= 0:
            del self._languages[lang]
        self._invalidate()
        return True

    def _invalidate(self) -> None:
        self._mult_cache.clear()
        self._group_cache.clear()
        self._cache.clear()
        self._norms = None
        self._sorted_vocab = None

    # ------------------------------------------------------------------ scoring internals

    def _idf(self, term: str) -> float:
        df = len(self._postings.get(term, ()))
        n = len(self._entries)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _length_norms(self) -> dict[str, tuple[float, float, float]]:
        if self._norms is None:
            p = self.params
            n = max(1, len(self._entries))
            avg = [max(1e-9, s / n) for s in self._len_sum]
            bs = (p.b_title, p.b_body, p.b_tags)
            ws = (p.w_title, p.w_body, p.w_tags)
            self._norms = {
                doc_id: tuple(  # type: ignore[misc]
                    ws[f] / (1.0 - bs[f] + bs[f] * e.lengths[f] / avg[f]) for f in range(3)
                )
                for doc_id, e in self._entries.items()
            }
        return self._norms

    def _weights(self, term: str) -> dict[str, float]:
        """BM25F weight of term in every doc that contains it (cached until the next write)."""
        return self._table(term)[0]

    def _table(self, term: str) -> tuple[dict[str, float], float]:
        """(doc -> BM25F weight, max weight) for a term, computed lazily and cached until the next write."""
        cached = self._cache.get(term)
        if cached is not None:
            return cached
        plist = self._postings.get(term)
        if not plist:
            return {}, 0.0
        norms = self._length_norms()
        k1 = self.params.k1
        idf = self._idf(term)
        out: dict[str, float] = {}
        for doc_id, (t0, t1, t2) in plist.items():
            nt, nb, ng = norms[doc_id]
            tf = t0 * nt + t1 * nb + t2 * ng
            out[doc_id] = idf * tf / (k1 + tf)
        table = (out, max(out.values()))
        self._cache[term] = table
        return table

    def _in_vocab(self, term: str) -> bool:
        return term in self._postings

    def _typo_candidate(self, term: str) -> str | None:
        """Most frequent vocabulary term at edit distance 1 (delete/transpose/replace/insert)."""
        if len(term) < 4 or not term.isalpha() or not term.isascii():
            return None
        splits = [(term[:i], term[i:]) for i in range(len(term) + 1)]
        cands: set[str] = set()
        for a, b in splits:
            if b:
                cands.add(a + b[1:])
            if len(b) > 1:
                cands.add(a + b[1] + b[0] + b[2:])
            for c in _ALPHABET:
                if b:
                    cands.add(a + c + b[1:])
                cands.add(a + c + b)
        cands.discard(term)
        best: tuple[int, str] | None = None
        for c in cands:
            plist = self._postings.get(c)
            if plist and " " not in c:
                key = (-len(plist), c)
                if best is None or key < best:
                    best = key
        return best[1] if best else None

    def _variants(self, word: str, qlang: str) -> dict[str, float]:
        """Stems of a surface word under every language in the index, plus discounted related words."""
        p = self.params
        langs = sorted(set(self._languages) | {qlang})
        canon = _text.SYNONYMS.get(word, word) if p.synonyms else word
        out = {_text.stem(canon, lang): 1.0 for lang in langs}
        if p.cross_language and len(langs) > 1:
            alias = _text.CROSS_LANGUAGE.get(word)
            if alias:
                out.setdefault(_text.stem(alias, "en"), 1.0)
        if p.related_weight > 0:
            for rel in _text.RELATED.get(word, ()):
                for lang in langs:
                    out.setdefault(
                        _text.stem(_text.SYNONYMS.get(rel, rel) if p.synonyms else rel, lang),
                        p.related_weight,
                    )
        return out

    def _query_groups(self, query: str) -> list[_Group]:
        return self._analyze_query(query)[0]

    def _analyze_query(self, query: str) -> tuple[list[_Group], str | None]:
        """Query groups plus the detected query language (None when undecided)."""
        p = self.params
        cleaned = _text.clean_chat_noise(query) if p.query_cleanup else query
        detected = _text.detect_language(cleaned)
        qlang = detected or "en"
        tokens = _text.tokenize(cleaned)[:_MAX_QUERY_TOKENS]
        groups: dict[tuple[str, ...], _Group] = {}

        def add(variants: dict[str, float], weight: float, primary: bool) -> None:
            vs = tuple(sorted(v for v in variants if self._in_vocab(v)))
            if not vs:
                return
            g = groups.get(vs)
            if g is None:
                groups[vs] = _Group(weight, vs, tuple(variants[v] for v in vs), primary)
            elif weight > g.weight:
                g.weight = weight
                g.primary = g.primary or primary

        raw_words: list[tuple[str, bool]] = []  # (word, is_stop) in order, for concatenation
        content: list[str] = []  # content words in order (for bigrams)
        seen: set[str] = set()
        fixes_left = _MAX_TYPO_FIXES
        for tok in tokens:
            word = tok.text
            stop = _text.is_noise(word, qlang) if p.query_cleanup else word in _text.STOPWORDS[qlang]
            if not tok.joined:
                raw_words.append((word, stop))
            if stop:
                continue
            if not tok.joined:
                content.append(word)
            if word in seen:
                continue
            seen.add(word)
            variants = self._variants(word, qlang)
            if "de" in self._languages and p.compound_weight > 0:
                # German compounds: "Treiber" also finds "Druckertreiber", "Drucker" finds "Druckerwarteschlange".
                for part in self._compound_matches(_text.stem(word, "de")):
                    variants.setdefault(part, p.compound_weight)
            if any(self._in_vocab(v) for v, w in variants.items() if w >= 1.0):
                add(variants, 1.0, True)
                continue
            if fixes_left > 0 and (p.typo or p.decompound):
                fixes_left -= 1
                fixed = self._typo_fix(word, qlang) if p.typo else None
                if fixed is not None:
                    add({fixed: 1.0}, p.typo_weight, True)
                    continue
                if p.decompound and len(word) >= 8:
                    split = self._split_compound(word, qlang)
                    for left, right in split:
                        add({left: 1.0}, p.decompound_weight, True)
                        add({right: 1.0}, p.decompound_weight, True)
                    if split:
                        continue
            add(variants, 1.0, True)  # only related words (if any) are known
        # Adjacent words written apart that the KB writes together ("git hub", "back up", "Drucker treiber");
        # the first word must be a content word, so "the file" never becomes "thefile".
        if p.concat_weight > 0:
            pairs = {
                (a, b) for (a, a_stop), (b, _) in zip(raw_words, raw_words[1:], strict=False) if not a_stop
            }
            for a, b in sorted(pairs):
                add(self._variants(a + b, qlang), p.concat_weight, False)
        if p.bigram_weight > 0:
            langs = sorted(set(self._languages) | {qlang})
            for a, b in zip(content, content[1:], strict=False):
                canon_a = _text.SYNONYMS.get(a, a) if p.synonyms else a
                canon_b = _text.SYNONYMS.get(b, b) if p.synonyms else b
                bigrams = {
                    f"{_text.stem(canon_a, lang)}{_BIGRAM_SEP}{_text.stem(canon_b, lang)}": 1.0
                    for lang in langs
                }
                add(bigrams, p.bigram_weight, False)
        out = list(groups.values())
        if len(out) > p.max_query_terms:
            out.sort(key=lambda g: (-g.weight * max(self._idf(v) for v in g.variants), g.variants))
            out = out[: p.max_query_terms]
        out.sort(key=lambda g: g.variants)
        return out, detected

    def _typo_fix(self, word: str, qlang: str) -> str | None:
        """Typo correction of an unknown word: best edit-distance-1 vocabulary stem over the languages."""
        if len(word) < 5:
            return None
        canon = _text.SYNONYMS.get(word, word) if self.params.synonyms else word
        langs = [qlang] + sorted(set(self._languages) - {qlang})
        for lang in langs:
            fixed = self._typo_candidate(_text.stem(canon, lang))
            if fixed is not None:
                return fixed
        return None

    def _compound_matches(self, stem: str, limit: int = 8) -> list[str]:
        """Vocabulary terms that start or end with a German stem (>= 4 chars), most frequent first."""
        if len(stem) < 4 or not stem.isalpha():
            return []
        if self._sorted_vocab is None:
            terms = [t for t in self._postings if " " not in t and t.isalpha()]
            self._sorted_vocab = sorted(terms)
            self._sorted_rvocab = sorted(t[::-1] for t in terms)
        found: set[str] = set()
        vocab = self._sorted_vocab
        i = bisect.bisect_left(vocab, stem)
        while i < len(vocab) and vocab[i].startswith(stem) and len(found) < 64:
            if len(vocab[i]) >= len(stem) + 3:
                found.add(vocab[i])
            i += 1
        rvocab = self._sorted_rvocab
        rstem = stem[::-1]
        i = bisect.bisect_left(rvocab, rstem)
        while i < len(rvocab) and rvocab[i].startswith(rstem) and len(found) < 128:
            if len(rvocab[i]) >= len(stem) + 3:
                found.add(rvocab[i][::-1])
            i += 1
        ranked = sorted(found, key=lambda t: (-len(self._postings.get(t, ())), t))
        return ranked[:limit]

    def _split_compound(self, word: str, qlang: str) -> list[tuple[str, str]]:
        """Best split of an unknown compound into two known stems (German linking -s- allowed)."""
        best: tuple[int, str, str] | None = None
        for i in range(3, len(word) - 2):
            left, right = word[:i], word[i:]
            lefts = [left] + ([left[:-1]] if left.endswith("s") and len(left) > 3 else [])
            r = _text.stem(right, qlang)
            if not self._in_vocab(r):
                continue
            for lw in lefts:
                ls = _text.stem(lw, qlang)
                if self._in_vocab(ls):
                    key = (-min(len(lw), len(right)), ls, r)
                    if best is None or key < best:
                        best = key
        return [(best[1], best[2])] if best else []

    # ------------------------------------------------------------------ search

    def search(
        self,
        query: str,
        *,
        limit: int = 3,
        visibility: str | Iterable[str] | None = None,
        language: str | Iterable[str] | None = None,
    ) -> list[SearchHit]:
        """Top `limit` articles for a free-text query; never raises on odd input (returns [] instead)."""
        try:
            ranked = self._rank(query, limit=limit, visibility=visibility, language=language)
        except Exception:  # a bug must not take the Slack handler down; it is logged and tested for
            _log.exception(
                "kb search failed for a query of %d chars", len(query) if isinstance(query, str) else -1
            )
            return []
        hits: list[SearchHit] = []
        for (score, doc_id), features in ranked:
            conf = self.confidence.probability(*features)
            hits.append(SearchHit(doc_id, score, round(conf, 4), self.confidence.label(conf)))
        return hits

    def hit_features(
        self, query: str, *, limit: int = 3
    ) -> list[tuple[str, tuple[float, float, float, float]]]:
        """(id, confidence features) of the top hits; used to calibrate a ConfidenceModel."""
        return [
            (doc_id, f) for (_, doc_id), f in self._rank(query, limit=limit, visibility=None, language=None)
        ]

    def _rank(
        self,
        query: str,
        *,
        limit: int,
        visibility: str | Iterable[str] | None,
        language: str | Iterable[str] | None,
    ) -> list[tuple[tuple[float, str], tuple[float, float, float, float]]]:
        if not isinstance(query, str) or limit <= 0 or not self._entries:
            return []
        allowed_vis = _as_set(visibility)
        allowed_lang = _as_set(language)
        groups, qlang = self._analyze_query(query)
        if not groups:
            return []
        params = self.params
        mtab = self._query_multipliers(query, qlang, allowed_vis, allowed_lang)

        # MaxScore-style evaluation: groups with the highest possible contribution (rare terms, short
        # postings) first. Once the (limit+1)-th best partial score beats everything the remaining groups
        # could add, no new article can enter the result, so the long postings of common terms are only
        # looked up for the surviving candidates. The result is identical to exhaustive scoring.
        plan: list[tuple[float, int, tuple[str, ...], dict[str, float], float]] = []
        for g in groups:
            weights, top_w, w = self._group_table(g)
            plan.append((top_w * w, len(weights), g.variants, weights, w))
        plan.sort(key=lambda x: (-x[0], x[2]))
        rest = [0.0] * (len(plan) + 1)
        for i in range(len(plan) - 1, -1, -1):
            rest[i] = rest[i + 1] + plan[i][0]
        m_max = max(1.0, params.feedback_max)
        k = limit + 1
        acc: dict[str, float] = {}
        get = acc.get
        open_ = True
        for j, (_, _, _, weights, w) in enumerate(plan):
            if open_:
                for doc_id, sc in weights.items():
                    acc[doc_id] = get(doc_id, 0.0) + w * sc
            else:
                wget = weights.get
                for doc_id in acc:
                    sc = wget(doc_id)
                    if sc is not None:
                        acc[doc_id] += w * sc
            remaining = rest[j + 1]
            if not self._prune or remaining <= 0.0 or j + 1 >= len(plan) or len(acc) <= 4 * k:
                continue
            if open_ and plan[j + 1][1] < len(acc) // 2:
                continue  # cheaper to keep adding postings than to compute the threshold
            ranked = [sc * mtab[d] for d, sc in acc.items() if d in mtab]
            if len(ranked) < k:
                continue
            theta = heapq.nlargest(k, ranked)[-1]
            if open_ and remaining * m_max + _EPS < theta:
                open_ = False
            if not open_:
                acc = {
                    d: sc for d, sc in acc.items() if d in mtab and (sc + remaining) * mtab[d] + _EPS >= theta
                }
                get = acc.get
        scored = [(round(sc * mtab[d], 9), d) for d, sc in acc.items() if d in mtab]
        top = heapq.nsmallest(limit + 1, scored, key=lambda x: (-x[0], x[1]))
        return list(zip(top[:limit], self._features(top, limit, groups), strict=False))

    def multipliers(
        self,
        query: str,
        *,
        visibility: str | Iterable[str] | None = None,
        language: str | Iterable[str] | None = None,
    ) -> dict[str, float]:
        """doc -> the score multiplier `search` applies for this query (feedback, incl. per-query feedback,
        x foreign-language factor), for exactly the articles that pass the filters. Do not modify it."""
        if not isinstance(query, str):
            return {}
        cleaned = _text.clean_chat_noise(query) if self.params.query_cleanup else query
        return self._query_multipliers(
            query, _text.detect_language(cleaned), _as_set(visibility), _as_set(language)
        )

    def _query_multipliers(
        self,
        query: str,
        qlang: str | None,
        allowed_vis: frozenset[str] | None,
        allowed_lang: frozenset[str] | None,
    ) -> dict[str, float]:
        params = self.params
        foreign_lang = qlang if qlang is not None and len(self._languages) > 1 else None
        mtab = self._multiplier_table(allowed_vis, allowed_lang, foreign_lang)
        qfb = self._query_feedback(query)
        if qfb:
            # query-term feedback replaces the global multiplier of the few articles it names
            mtab = dict(mtab)
            entries = self._entries
            for doc_id, (h, n) in qfb.items():
                if doc_id in mtab:
                    e = entries[doc_id]
                    m = feedback_multiplier(e.doc.helped + h, e.doc.not_relevant + n, params)
                    if foreign_lang is not None and _doc_language(e.doc) != foreign_lang:
                        m *= params.foreign_language_factor
                    mtab[doc_id] = m
        return mtab

    def _group_table(self, g: _Group) -> tuple[dict[str, float], float, float]:
        """(doc -> best variant weight, its maximum, group weight); merged tables are cached until a write."""
        if len(g.variants) == 1:
            weights, top = self._table(g.variants[0])
            return weights, top, g.weight * g.vweights[0]
        key = (g.variants, g.vweights)
        cached = self._group_cache.get(key)
        if cached is None:
            merged: dict[str, float] = {}
            mget = merged.get
            for v, vw in zip(g.variants, g.vweights, strict=True):
                for doc_id, sc in self._table(v)[0].items():
                    sc *= vw
                    if sc > mget(doc_id, 0.0):
                        merged[doc_id] = sc
            cached = (merged, max(merged.values(), default=0.0))
            if len(self._group_cache) >= _MAX_GROUP_TABLES:
                self._group_cache.clear()
            self._group_cache[key] = cached
        return cached[0], cached[1], g.weight

    def _multiplier_table(
        self, vis: frozenset[str] | None, lang: frozenset[str] | None, query_lang: str | None
    ) -> dict[str, float]:
        """doc -> score multiplier (feedback x foreign-language factor) for the docs passing the filters."""
        key = (vis, lang, query_lang)
        table = self._mult_cache.get(key)
        if table is None:
            factor = self.params.foreign_language_factor
            table = {}
            for doc_id, e in self._entries.items():
                doc_lang = _doc_language(e.doc)
                if (vis is not None and e.doc.visibility not in vis) or (
                    lang is not None and doc_lang not in lang
                ):
                    continue
                m = e.multiplier
                if query_lang is not None and doc_lang != query_lang:
                    m *= factor
                table[doc_id] = m
            if len(self._mult_cache) >= 32:
                self._mult_cache.clear()
            self._mult_cache[key] = table
        return table

    def _query_feedback(self, query: str) -> dict[str, tuple[float, float]] | None:
        """Per-doc (helped, not_relevant) from query-term feedback, averaged over the query's terms."""
        if not self._qfb:
            return None
        terms = query_feedback_terms(query)
        if not terms:
            return None
        totals: dict[str, list[float]] = {}
        for term in terms:
            for doc_id, (h, n) in self._qfb.get(term, {}).items():
                t = totals.setdefault(doc_id, [0.0, 0.0])
                t[0] += h
                t[1] += n
        if not totals:
            return None
        k = self.params.query_feedback_weight / len(terms)
        return {d: (h * k, n * k) for d, (h, n) in totals.items()}

    def _features(
        self, top: list[tuple[float, str]], limit: int, groups: list[_Group]
    ) -> list[tuple[float, float, float, float]]:
        """Scale-free features per hit: score / max possible, score / best, gap to next, idf coverage."""
        primaries = [g for g in groups if g.primary] or groups
        idfs = [max(self._idf(v) for v in g.variants) for g in primaries]
        max_score = sum(g.weight * i for g, i in zip(primaries, idfs, strict=True)) or 1.0
        total_idf = sum(idfs) or 1.0
        best = top[0][0] if top and top[0][0] > 0 else 1e-9
        out: list[tuple[float, float, float, float]] = []
        for rank, (score, doc_id) in enumerate(top[:limit]):
            nxt = top[rank + 1][0] if rank + 1 < len(top) else 0.0
            terms = self._entries[doc_id].terms
            covered = sum(
                i
                for g, i in zip(primaries, idfs, strict=True)
                if any((tfs := terms.get(v)) is not None and (tfs[0] or tfs[2]) for v in g.variants)
            )
            out.append(
                (
                    min(1.5, score / max_score),
                    score / best,
                    (score - nxt) / score if score > 0 else 0.0,
                    covered / total_idf,
                )
            )
        return out


def _as_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)
