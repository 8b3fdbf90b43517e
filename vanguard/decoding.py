"""Constrained decoding: a ``transformers.LogitsProcessor`` that keeps generated answers inside the answer grammar.

The grammar is the exact layout :func:`vanguard.answer.render_answer` produces::

    {"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [x1, y1, x2, y2], "label": "person"}, ...]}
    {"anomaly": "no", "category": "Normal", "boxes": []}

with integer coordinates in 0..1000 (no leading zeros), ``x1 < x2`` and ``y1 < y2``, a known category consistent
with ``anomaly``, no boxes for a normal answer, at least ``min_boxes`` and at most ``max_boxes`` boxes for an
anomalous one, and labels of 1..``label_max_chars``
lowercase letters and spaces (starting with a letter). Optionally (stage 3) it is preceded by
``<think>`` free text ``</think>\\n``; after ``think_max_tokens`` tokens of free text the close is forced.

One decision: :meth:`AnswerConstraint.force` fixes each row's anomaly and category to what the classification head
decided (the literal up to the boxes is then the only way through), so the generated answer states the head's
decision and the language model writes only the boxes and the reasoning.

How: :class:`AnswerGrammar` is a character-level state machine (hashable tuple states). For each state the set of
allowed token ids is computed once per tokenizer and cached: a token is allowed iff its whole decoded string is
accepted from the state. Token strings come from decoding each id alone (byte-level BPE pieces that are partial
UTF-8 decode to U+FFFD, which the grammar never accepts, so they only appear inside ``<think>``). Candidates are
found through first/second-character buckets, and the two free-running parts (think text, labels) use vectorised
numpy filters, so a new state costs milliseconds even on Qwen's 151k vocabulary. Per generated token the processor
only advances each row's state (a cached transition) and masks the logits with cached index tensors. EOS is
allowed only once the answer is complete. Greedy and sampling are supported; beam search is not (rows reorder).
"""

from __future__ import annotations

import logging
import string
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from transformers import LogitsProcessor

from vanguard.answer import THINK_CLOSE, THINK_OPEN
from vanguard.categories import CATEGORIES, NORMAL

log = logging.getLogger(__name__)

State = tuple
JSON_START = '{"anomaly": "'
LABEL_CHARS = frozenset(string.ascii_lowercase + " ")
DIGITS = "0123456789"
DONE: State = ("done",)
FINISHED: State = ("finished",)  # EOS emitted; the row only receives padding now


class AnswerGrammar:
    """The answer layout as a character state machine: :meth:`start`, :meth:`step` (None = rejected), :meth:`accepting`.

    Args:
        think: ``none`` (JSON only), ``required`` (``<think>..</think>\\n`` first) or ``optional``.
        max_boxes: the most boxes an anomalous answer may list.
        label_max_chars: the longest box label.
        categories: the allowed category names (Normal is used for ``anomaly: no``).
    """

    def __init__(
        self,
        think: Literal["none", "optional", "required"] = "none",
        max_boxes: int = 4,
        label_max_chars: int = 24,
        categories: Sequence[str] = CATEGORIES,
        min_boxes: int = 0,
    ):
        if think not in ("none", "optional", "required"):
            raise ValueError(f"think must be none, optional or required, got {think!r}")
        if not 0 <= min_boxes <= max_boxes:
            raise ValueError(f"min_boxes must be in 0..max_boxes ({max_boxes}), got {min_boxes}")
        self.think, self.max_boxes, self.label_max_chars = think, max_boxes, label_max_chars
        self.min_boxes = min_boxes
        self.categories = tuple(categories)
        self.anomalous_categories = tuple(c for c in categories if c != NORMAL)
        self._alternatives = lru_cache(maxsize=None)(self._make_alternatives)

    # ---- structure ---------------------------------------------------------------------------------------------
    def start(self, decision: str | None = None) -> State:
        """The initial state; ``decision`` (a category, Normal included) forces the answer's anomaly and category
        (the classification head decided them), None leaves them to the model."""
        if decision is not None and decision not in self.categories:
            raise ValueError(f"unknown decision category {decision!r}")
        return ("alt", ("start", decision), "")

    @staticmethod
    def _num(which: int, lo: int, hi: int, carry: int, n: int) -> State:
        return ("num", which, "", lo, hi, carry, n)

    def _make_alternatives(self, key) -> tuple[tuple[str, State], ...]:
        """Prefix-free literal alternatives and the state each leads to."""
        kind, *rest = key
        if kind in ("start", "after_think", "force_close", "anom"):
            return self._decision_alternatives(kind, rest[0])
        if kind == "cat":
            return tuple((f'{c}", "boxes": [', ("alt", ("box", 0), "")) for c in self.anomalous_categories)
        if kind == "box":  # n boxes written so far
            n = rest[0]
            alts = [("]}", DONE)] if n >= self.min_boxes else []
            if n < self.max_boxes:
                alts.append(('{"bbox_2d": [' if n == 0 else ', {"bbox_2d": [', self._num(0, 0, 999, -1, n)))
            return tuple(alts)
        if kind == "lit":
            return ((rest[0], rest[1]),)
        raise KeyError(key)

    def _decision_alternatives(self, kind: str, decision: str | None) -> tuple[tuple[str, State], ...]:
        """The literals up to the category, where a forced ``decision`` leaves exactly one way through."""
        anom = ("alt", ("anom", decision), "")
        if kind == "start":
            alts = []
            if self.think in ("optional", "required"):
                alts.append((THINK_OPEN, ("think", 0, decision)))
            if self.think in ("optional", "none"):
                alts.append((JSON_START, anom))
            return tuple(alts)
        if kind == "after_think":
            return (("\n" + JSON_START, anom),)
        if kind == "force_close":
            return ((THINK_CLOSE + "\n" + JSON_START, anom),)
        normal = (f'no", "category": "{NORMAL}", "boxes": []}}', DONE)
        if decision == NORMAL:
            return (normal,)
        if decision is not None:
            return ((f'yes", "category": "{decision}", "boxes": [', ("alt", ("box", 0), "")),)
        return (('yes", "category": "', ("alt", ("cat",), "")), normal)

    # ---- the machine -------------------------------------------------------------------------------------------
    def step(self, state: State, ch: str) -> State | None:
        kind = state[0]
        if kind == "alt":
            _, key, typed = state
            typed += ch
            for text, nxt in self._alternatives(key):
                if text.startswith(typed):
                    return nxt if len(text) == len(typed) else ("alt", key, typed)
            return None
        if kind == "think":
            _, m, decision = state
            if ch == THINK_CLOSE[m]:
                return ("alt", ("after_think", decision), "") if m + 1 == len(THINK_CLOSE) else ("think", m + 1, decision)
            return ("think", 1 if ch == "<" else 0, decision)
        if kind == "num":
            return self._step_num(state, ch)
        if kind == "label":
            _, k, n = state
            if ch == '"' and k > 0:
                return ("alt", ("lit", '"}', ("alt", ("box", n + 1), "")), '"')
            if ch in LABEL_CHARS and k < self.label_max_chars and (k > 0 or ch != " "):
                return ("label", k + 1, n)
            return None
        return None  # done / finished accept nothing

    def _step_num(self, state: State, ch: str) -> State | None:
        _, which, digits, lo, hi, carry, n = state
        if ch in DIGITS:
            new = digits + ch
            if digits == "0" or len(new) > 4 or not _feasible(new, lo, hi):
                return None
            return ("num", which, new, lo, hi, carry, n)
        if not digits or not lo <= int(digits) <= hi:
            return None
        v = int(digits)
        if ch == "," and which < 3:
            if which == 0:  # x1 done; carry it to bound x2
                nxt = self._num(1, 0, 999, v, n)
            elif which == 1:  # y1 done; x2 in (x1, 1000]; carry y1
                nxt = self._num(2, carry + 1, 1000, v, n)
            else:  # x2 done; y2 in (y1, 1000]
                nxt = self._num(3, carry + 1, 1000, -1, n)
            return ("alt", ("lit", ", ", nxt), ",")
        if ch == "]" and which == 3:
            return ("alt", ("lit", '], "label": "', ("label", 0, n)), "]")
        return None

    def accepting(self, state: State) -> bool:
        return state == DONE

    def walk(self, state: State, text: str) -> State | None:
        """Run the machine over ``text``; None as soon as a character is rejected."""
        for ch in text:
            state = self.step(state, ch)
            if state is None:
                return None
        return state

    def candidates(self, state: State) -> Iterable[str] | None:
        """A superset of the characters :meth:`step` may accept (None: any character, in think text)."""
        kind = state[0]
        if kind == "alt":
            _, key, typed = state
            return {t[len(typed)] for t, _ in self._alternatives(key) if t.startswith(typed) and len(t) > len(typed)}
        if kind == "num":
            return DIGITS + ",]"
        if kind == "label":
            return LABEL_CHARS | {'"'}
        if kind == "think":
            return None
        return ()

    def max_chars(self, think_chars: int = 0) -> int:
        """An upper bound on the characters of an accepted text (each is at most one token)."""
        cat = max(map(len, self.anomalous_categories))
        box = len(', {"bbox_2d": [') + 4 * 4 + 3 * 2 + len('], "label": "') + self.label_max_chars + 2
        head = len(JSON_START) + len('yes", "category": "') + cat + len('", "boxes": [') + 2
        think = len(THINK_OPEN) + think_chars + len(THINK_CLOSE) + 1 if self.think != "none" else 0
        return think + head + self.max_boxes * box


def _feasible(prefix: str, lo: int, hi: int) -> bool:
    """Can the digits ``prefix`` (no leading zero) grow into an integer in [lo, hi] with at most 4 digits?"""
    v = int(prefix)
    extra = range(0, 5 - len(prefix)) if prefix != "0" else range(1)
    return any(v * 10**k <= hi and v * 10**k + 10**k - 1 >= lo for k in extra)


class TokenVocabulary:
    """Every token id's decoded string (None for special, empty or out-of-tokenizer ids) and lookup tables."""

    def __init__(self, tokenizer, vocab_size: int | None = None):
        n_tok = len(tokenizer)
        self.size = max(vocab_size or n_tok, n_tok)
        decoded = tokenizer.batch_decode([[i] for i in range(n_tok)], clean_up_tokenization_spaces=False)
        special = set(tokenizer.all_special_ids)
        self.strings: list[str | None] = [None if i in special or not s else s for i, s in enumerate(decoded)]
        self.strings += [None] * (self.size - n_tok)
        self.singles: dict[str, list[int]] = {}
        self.by_two: dict[tuple[str, str], list[int]] = {}
        self.second_chars: dict[str, set[str]] = {}
        for i, s in enumerate(self.strings):
            if s is None:
                continue
            if len(s) == 1:
                self.singles.setdefault(s, []).append(i)
            else:
                self.by_two.setdefault((s[0], s[1]), []).append(i)
                self.second_chars.setdefault(s[0], set()).add(s[1])
        valid = np.array([s is not None for s in self.strings])
        text = [s or "" for s in self.strings]
        self.valid = valid
        self.lengths = np.array([len(s) for s in text])
        self.first = np.array([ord(s[0]) if s else -1 for s in text])
        self.has_lt = np.array(["<" in s for s in text])
        self.label_pure = valid & np.array([bool(s) and set(s) <= LABEL_CHARS for s in text])
        self.starts_letter = np.array([bool(s) and s[0] in string.ascii_lowercase for s in text])
        self.label_then_quote = [
            i for i, s in enumerate(text) if '"' in s and set(s[: s.index('"')]) <= LABEL_CHARS
        ]  # a label run, then the closing quote and possibly more


class AllowedTokens:
    """The allowed token ids of each grammar state for one tokenizer, computed on first use and cached."""

    def __init__(self, grammar: AnswerGrammar, vocab: TokenVocabulary, eos_ids: Sequence[int]):
        self.grammar, self.vocab, self.eos_ids = grammar, vocab, sorted(set(eos_ids))
        self._cache: dict[State, tuple[np.ndarray, bool]] = {}
        self._tensors: dict[tuple[State, torch.device], tuple[torch.Tensor, bool]] = {}
        self._transitions: dict[tuple[State, int], State | None] = {}

    def next_state(self, state: State, token: int) -> State | None:
        key = (state, token)
        if key not in self._transitions:
            s = self.vocab.strings[token] if token < len(self.vocab.strings) else None
            self._transitions[key] = None if s is None else self.grammar.walk(state, s)
        return self._transitions[key]

    def ids(self, state: State) -> tuple[np.ndarray, bool]:
        """(token ids, inverted): the allowed ids, or with ``inverted`` the disallowed ids (think text)."""
        if state not in self._cache:
            self._cache[state] = self._compute(state)
        return self._cache[state]

    def tensor(self, state: State, device: torch.device) -> tuple[torch.Tensor, bool]:
        key = (state, device)
        if key not in self._tensors:
            ids, inverted = self.ids(state)
            self._tensors[key] = (torch.as_tensor(ids, dtype=torch.long, device=device), inverted)
        return self._tensors[key]

    def _accepted(self, state: State, ids: Iterable[int]) -> list[int]:
        walk, strings = self.grammar.walk, self.vocab.strings
        return [i for i in ids if walk(state, strings[i]) is not None]

    def _compute(self, state: State) -> tuple[np.ndarray, bool]:
        v, g = self.vocab, self.grammar
        if state in (DONE, FINISHED):
            return np.array(self.eos_ids, dtype=np.int64), False
        if state[0] == "think":  # free text: everything without '<' unless it may continue the close tag
            m = state[1]
            risky = v.has_lt | (v.first == ord(THINK_CLOSE[m])) if m else v.has_lt
            allowed = v.valid & ~risky
            allowed[self._accepted(state, np.flatnonzero(v.valid & risky))] = True
            return np.flatnonzero(~allowed), True
        if state[0] == "label":
            k = state[1]
            pure = v.label_pure & (v.lengths <= g.label_max_chars - k) & (v.starts_letter if k == 0 else True)
            ids = set(np.flatnonzero(pure).tolist()) | set(self._accepted(state, v.label_then_quote))
            return self._nonempty(state, sorted(ids)), False
        ids: list[int] = []
        for c1 in g.candidates(state):
            s1 = g.step(state, c1)
            if s1 is None:
                continue
            ids += v.singles.get(c1, [])
            seconds = g.candidates(s1)
            for c2 in v.second_chars.get(c1, ()) if seconds is None else seconds:
                s2 = g.step(s1, c2)
                if s2 is not None:
                    ids += [i for i in v.by_two.get((c1, c2), ()) if g.walk(s2, v.strings[i][2:]) is not None]
        return self._nonempty(state, sorted(ids)), False

    def _nonempty(self, state: State, ids: list[int]) -> np.ndarray:
        if not ids:  # cannot happen with a byte-level vocabulary (every character has a token)
            log.warning("no token of this vocabulary continues grammar state %r; allowing EOS", state)
            ids = self.eos_ids
        return np.array(ids, dtype=np.int64)


_TABLES: dict[tuple, AllowedTokens] = {}


class AnswerConstraint(LogitsProcessor):
    """Masks logits so that generation can only produce a valid answer (see the module docstring).

    Use: ``backbone.generate(batch, max_new_tokens=..., logits_processor=LogitsProcessorList([AnswerConstraint(
    backbone.tokenizer, think="required")]))``; ``max_new_tokens`` must be at least :meth:`required_new_tokens`
    for every sample to finish. One instance serves one ``generate`` call at a time (its state resets when a new
    call starts); the per-state tables are shared by all instances on the same tokenizer. Like most HF processors
    in the hot path it masks ``scores`` in place and returns them.

    Args:
        tokenizer: the backbone's tokenizer (any HF tokenizer).
        think: ``none``, ``required`` or ``optional`` ``<think>..</think>`` block before the JSON.
        max_boxes: most boxes in an anomalous answer.
        label_max_chars: longest box label.
        think_max_tokens: tokens of free text after which ``</think>`` is forced.
        eos_token_id: ids that end generation (default: the tokenizer's EOS and ``<|im_end|>``).
        min_boxes: fewest boxes in an anomalous answer (1: an anomalous answer always points at something).
        repetition_penalty: HF's ``RepetitionPenaltyLogitsProcessor`` on the reasoning text only (1.0: off).
        no_repeat_ngram_size: HF's ``NoRepeatNGramLogitsProcessor`` on the reasoning text only (0: off). Scoped to
            the text inside ``<think>``: the JSON answer repeats its own structure by design (one box after another)
            and the prompt's words are not the reasoning's.
    """

    def __init__(
        self,
        tokenizer,
        think: Literal["none", "optional", "required"] = "none",
        max_boxes: int = 4,
        label_max_chars: int = 24,
        think_max_tokens: int = 256,
        eos_token_id: int | Sequence[int] | None = None,
        min_boxes: int = 0,
        repetition_penalty: float = 1.0,
        no_repeat_ngram_size: int = 0,
    ):
        from transformers import NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

        self.tokenizer = tokenizer
        self.grammar = AnswerGrammar(think, max_boxes, label_max_chars, min_boxes=min_boxes)
        self.think_max_tokens = think_max_tokens
        if eos_token_id is None:
            eos = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")}
            eos_token_id = [i for i in eos if isinstance(i, int) and i != tokenizer.unk_token_id]
        self.eos_ids = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
        self._key = (id(tokenizer), len(tokenizer), think, max_boxes, label_max_chars, tuple(self.eos_ids), min_boxes)
        self.think_processors = []
        if repetition_penalty != 1.0:
            self.think_processors.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
        if no_repeat_ngram_size > 0:
            self.think_processors.append(NoRepeatNGramLogitsProcessor(no_repeat_ngram_size))
        self.tables: AllowedTokens | None = None
        self.decisions: list[str | None] | None = None
        self._states: list[State] = []
        self._think_tokens: list[int] = []
        self._think_start: list[int | None] = []
        self._prev_ids: torch.Tensor | None = None

    def force(self, decisions: Sequence[str | None] | None) -> AnswerConstraint:
        """Force each row's anomaly and category for the next ``generate`` call: ``decisions[i]`` is the category
        the classification head decided for sample i (Normal: not anomalous), None leaves that row free."""
        self.decisions = None if decisions is None else list(decisions)
        return self

    def reset(self, batch: int = 0) -> None:
        """Start over (done automatically when a call does not continue the previous one by one token)."""
        decisions = self.decisions if self.decisions is not None else [None] * batch
        if len(decisions) != batch:
            raise ValueError(f"{len(decisions)} forced decisions for a batch of {batch}")
        self._states = [self.grammar.start(d) for d in decisions]
        self._think_tokens = [0] * batch
        self._think_start = [None] * batch
        self._prev_ids = None

    def required_new_tokens(self) -> int:
        """``max_new_tokens`` that lets every constrained answer finish (+1 for EOS)."""
        return self.grammar.max_chars() + (self.think_max_tokens + len(THINK_CLOSE) + 1 if self.grammar.think != "none" else 0) + 1

    def _tables(self, vocab_size: int) -> AllowedTokens:
        key = (*self._key, vocab_size)
        if key not in _TABLES:
            _TABLES[key] = AllowedTokens(self.grammar, TokenVocabulary(self.tokenizer, vocab_size), self.eos_ids)
        return _TABLES[key]

    def _advance(self, row: int, token: int, length: int) -> None:
        state = self._states[row]
        if state in (DONE, FINISHED):
            self._states[row] = FINISHED
            return
        nxt = self.tables.next_state(state, token)
        if nxt is None:  # only if another processor forced a masked token; stop constraining this row
            log.warning("token %d is outside the answer grammar at state %r", token, state)
            nxt = FINISHED
        elif nxt[0] == "think":
            if self._think_start[row] is None:  # the reasoning text starts after this token
                self._think_start[row] = length
            self._think_tokens[row] += 1
            if self._think_tokens[row] >= self.think_max_tokens:
                nxt = ("alt", ("force_close", nxt[2]), THINK_CLOSE[: nxt[1]])
        self._states[row] = nxt

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        batch, length = input_ids.shape
        if self.tables is None:
            self.tables = self._tables(scores.shape[-1])
        prev = self._prev_ids
        if prev is None or prev.shape != (batch, length - 1) or not torch.equal(input_ids[:, :-1], prev):
            self.reset(batch)  # a new generate call (not one more token of the previous one)
        else:
            for row, token in enumerate(input_ids[:, -1].tolist()):
                self._advance(row, token, length)
        self._prev_ids = input_ids
        neg_inf = float("-inf")
        for row, state in enumerate(self._states):  # in place: no (batch, vocab) temporaries per step
            ids, inverted = self.tables.tensor(state, scores.device)
            start = self._think_start[row]
            if state[0] == "think" and start is not None and start < length:
                for processor in self.think_processors:  # HF's repetition controls, on this row's reasoning only
                    scores[row : row + 1] = processor(input_ids[row : row + 1, start:], scores[row : row + 1])
            if inverted:
                scores[row].index_fill_(0, ids, neg_inf)
            else:
                keep = scores[row].index_select(0, ids)
                scores[row].fill_(neg_inf)
                scores[row].index_copy_(0, ids, keep)
        return scores
