"""Log-likelihood requests that share a token prefix, with the prefix computed once.

Causal LMs. A request is scored on its input tokens x (lm-eval's split: context tokens + continuation tokens
without the last one, truncated on the left) at its last n positions, which predict the continuation. Its first
len(x) - n tokens (the context without its last token) need no logits, only their keys and values. Requests whose
inputs start with the same such tokens form a group (the choices of one question); the tokens every group starts
with are the prefix (a task's few-shot primer). One call runs:

1. the prefix once (batch 1), keeping its KV cache;
2. each group's remaining context tokens once, batched and right-padded after the prefix's cache: position ids
   continue from the prefix length, the attention mask is the prefix's ones + the tokens' mask;
3. each request's last n tokens, batched across groups, after its group's cache: cached rows are padded on the
   left to the longest in the batch (mask 0, zero keys and values), new tokens on the right; position ids are
   the true positions, so every real token attends to exactly the tokens it attends to unshared (the layout of
   a left-padded `generate` batch).

Only step 3 goes through the LM head. This needs a forward that takes the KV cache (under the installed
transformers' keyword, `variformer.modeling.cache_names`) and position ids, and that returns a `DynamicCache` of
plain `DynamicLayer`s; any other cache (sliding window, recurrent, static) raises `NotShareable` and the adapter
scores requests whole. A call shares only when it runs at most `WORTH_IT` of the tokens of scoring requests whole.

Seq2seq LMs. The encoder runs once per distinct source (the choices of one question share it); the decoder
inputs of its requests are batched over the encoder states selected per row. Every decoder position is scored
(start token + continuation), so the decoder side shares nothing beyond the encoder states.

Legend: rows = batch rows, heads = key/value heads, past = cached positions, new = new positions, dim = head dim,
source = encoder positions, hidden = model width, vocab = vocabulary size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer
from transformers.modeling_outputs import BaseModelOutput

from ...modeling.cache_names import CACHE_KWARG, output_cache
from ..records import LoglikelihoodResult

Item = tuple[list[int], list[int]]  # causal: (inputs, targets); seq2seq: (encoder input, targets)
Past = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), each (1, heads, past, dim)
WORTH_IT = 0.75  # share when that runs at most this fraction of the tokens of scoring every request whole


class NotShareable(Exception):
    """The model's KV cache cannot be reused here: score requests whole."""


@dataclass
class Group:
    """Requests (indices into the items) whose scored tokens follow the same `key` tokens."""

    key: tuple[int, ...]
    members: list[int] = field(default_factory=list)
    past: Past | None = None  # keys and values of `key`, while its requests are scored


def group_items(items: list[Item], key: Callable[[Item], tuple[int, ...]]) -> list[Group]:
    groups: dict[tuple[int, ...], Group] = {}
    for index, item in enumerate(items):
        token_key = key(item)
        groups.setdefault(token_key, Group(token_key)).members.append(index)
    return list(groups.values())


def common_prefix_length(keys: list[tuple[int, ...]]) -> int:
    return len(os.path.commonprefix(keys))  # element-wise over any sequences, not only strings


def whole_tokens(items: list[Item], seq2seq: bool) -> int:
    """Tokens the model runs to score every item whole: causal inputs; seq2seq encoder + decoder inputs."""
    return sum(len(first) + (len(targets) if seq2seq else 0) for first, targets in items)


def score_rows(logits: torch.Tensor, targets: list[list[int]]) -> list[LoglikelihoodResult]:
    """(rows, new, vocab) logits whose row r predicts targets[r] at its first len(targets[r]) positions ->
    summed log-prob, greedy flag and token count per row."""
    logprobs = torch.log_softmax(logits.float(), dim=-1)  # (rows, new, vocab)
    padded = torch.zeros(logits.shape[:2], dtype=torch.long)  # (rows, new)
    scored = torch.zeros(logits.shape[:2], dtype=torch.bool)  # (rows, new)
    for row, row_targets in enumerate(targets):
        padded[row, : len(row_targets)] = torch.tensor(row_targets)
        scored[row, : len(row_targets)] = True
    padded, scored = padded.to(logits.device), scored.to(logits.device)
    picked = logprobs.gather(-1, padded[..., None]).squeeze(-1)  # (rows, new)
    sums = picked.where(scored, 0.0).sum(-1)  # (rows,)
    greedy = ((logprobs.argmax(-1) == padded) | ~scored).all(-1)  # (rows,)
    return [
        LoglikelihoodResult(total, is_greedy, len(row_targets))
        for total, is_greedy, row_targets in zip(sums.tolist(), greedy.tolist(), targets)
    ]


class SharedPrefixScorer:
    """Scores an `HFAdapter`'s log-likelihood items with shared prefixes computed once (module docstring)."""

    def __init__(self, adapter):
        self.adapter = adapter
        parameters = adapter._forward_parameters
        self.keep_last_logit = {"logits_to_keep": 1} if "logits_to_keep" in parameters else {}
        self._last_prefix: tuple[tuple, tuple[int, ...], Past] | None = None  # (weights state, tokens, past)
        if adapter.architecture == "seq2seq":
            self.ready = "encoder_outputs" in parameters and callable(getattr(adapter.model, "get_encoder", None))
        else:
            self.ready = (
                CACHE_KWARG in parameters
                and "position_ids" in parameters
                and not getattr(adapter.model, "_is_stateful", False)
            )

    def score(self, items: list[Item]) -> list[LoglikelihoodResult] | None:
        """Results in item order, or None where sharing does not apply."""
        if not self.ready or not items:
            return None
        return self._seq2seq(items) if self.adapter.architecture == "seq2seq" else self._causal(items)

    def _worth_it(self, items: list[Item], shared: int) -> bool:
        """Whether `shared` tokens are at most WORTH_IT of the tokens of scoring every item whole."""
        return shared <= WORTH_IT * whole_tokens(items, self.adapter.architecture == "seq2seq")

    def _count(self, token_lists: list[list[int]]) -> None:
        """Tokens as they run through the model, in the adapter's totals."""
        self.adapter.loglikelihood_tokens["run"] += sum(len(tokens) for tokens in token_lists)

    # -- causal LMs ----------------------------------------------------------------------------------------------
    def _causal(self, items: list[Item]) -> list[LoglikelihoodResult] | None:
        groups = group_items(items, lambda item: tuple(item[0][: len(item[0]) - len(item[1])]))
        prefix = common_prefix_length([group.key for group in groups])
        shared = (
            sum(len(group.key) for group in groups)
            - prefix * (len(groups) - 1)
            + sum(len(targets) for _, targets in items)
        )
        if not self._worth_it(items, shared):
            return None
        with torch.inference_mode():
            prefix_past = self._prefix_past(groups[0].key[:prefix])
        shapes = [(prefix, len(group.key) - prefix) for group in groups]
        per_group = self.adapter._batched(
            groups, shapes, lambda batch: self._score_groups(batch, prefix, prefix_past, items)
        )
        return _ungroup(groups, per_group, len(items))

    def _prefix_past(self, tokens: tuple[int, ...]) -> Past | None:
        """Step 1: keys and values of `tokens`, reusing the previous call's prefix as far as both agree (the
        runner's chunks of one task share its primer) while the weights are unchanged."""
        if not tokens:
            return None
        state = _weights_state(self.adapter.model)
        reused, past = 0, None
        if self._last_prefix is not None and self._last_prefix[0] == state:
            reused = common_prefix_length([self._last_prefix[1], tokens])
            past = (
                [(keys[:, :, :reused], values[:, :, :reused]) for keys, values in self._last_prefix[2]]
                if reused
                else None
            )
        if reused < len(tokens):
            past = _past(self._forward([past], [list(tokens[reused:])], logits=False), 0, len(tokens))
            self._last_prefix = (state, tokens, past)
        return past

    def _score_groups(
        self, groups: list[Group], prefix: int, prefix_past: Past | None, items: list[Item]
    ) -> list[list[LoglikelihoodResult]]:
        """Steps 2 and 3 for one batch of groups: results per group, in member order."""
        self._group_pasts(groups, prefix, prefix_past)
        rows = [(group, index) for group in groups for index in group.members]
        shapes = [(len(group.key), len(items[index][1])) for group, index in rows]
        order = sorted(range(len(rows)), key=lambda row: (-shapes[row][1], -shapes[row][0]))  # least new padding
        results: dict[int, LoglikelihoodResult] = {}
        start = 0
        while start < len(order):
            batch = [rows[row] for row in self.adapter.next_batch(shapes, order, start)]
            start += len(batch)
            new = [items[index][0][len(group.key) :] for group, index in batch]
            logits = self._forward([group.past for group, _ in batch], new, logits=True).logits  # (rows, new, vocab)
            for (_, index), result in zip(batch, score_rows(logits, [items[index][1] for _, index in batch])):
                results[index] = result
        for group in groups:
            group.past = None
        return [[results[index] for index in group.members] for group in groups]

    def _group_pasts(self, groups: list[Group], prefix: int, prefix_past: Past | None) -> None:
        """Step 2: each group's keys and values of its `key` tokens."""
        pending = [group for group in groups if len(group.key) > prefix]
        for group in groups:
            group.past = prefix_past
        if pending:
            outputs = self._forward(
                [prefix_past] * len(pending), [list(group.key[prefix:]) for group in pending], logits=False
            )
            for row, group in enumerate(pending):
                group.past = _past(outputs, row, len(group.key))

    def _forward(self, pasts: list[Past | None], new: list[list[int]], logits: bool):
        """The model on each row's `new` tokens (right-padded) after its cached `pasts` (left-padded)."""
        ids, new_mask, _ = self.adapter._pad(new, "right")  # (rows, new)
        lengths = torch.tensor([_length(past) for past in pasts], device=ids.device)  # (rows,)
        width = int(lengths.max())
        past_mask = torch.arange(width, device=ids.device) >= (width - lengths)[:, None]  # (rows, past)
        mask = torch.cat([past_mask.to(new_mask.dtype), new_mask], dim=1)  # (rows, past + new)
        positions = (lengths[:, None] + torch.arange(ids.shape[1], device=ids.device)) * new_mask  # (rows, new)
        kwargs = {"input_ids": ids, "attention_mask": mask, "position_ids": positions, "use_cache": True}
        self._count(new)
        if width:
            kwargs[CACHE_KWARG] = _left_padded_cache(pasts, width)
        if not logits:
            kwargs.update(self.keep_last_logit)
        return self.adapter.model(**kwargs)

    # -- seq2seq LMs ---------------------------------------------------------------------------------------------
    def _seq2seq(self, items: list[Item]) -> list[LoglikelihoodResult] | None:
        groups = group_items(items, lambda item: tuple(item[0]))
        shared = sum(len(group.key) for group in groups) + sum(len(targets) for _, targets in items)
        if not self._worth_it(items, shared):
            return None
        per_group = self.adapter._batched(
            groups, [(0, len(group.key)) for group in groups], lambda batch: self._score_sources(batch, items)
        )
        return _ungroup(groups, per_group, len(items))

    def _score_sources(self, groups: list[Group], items: list[Item]) -> list[list[LoglikelihoodResult]]:
        """One encoder pass over the groups' sources, then their requests' decoder inputs in batches."""
        adapter = self.adapter
        sources = [list(group.key) for group in groups]
        ids, mask, _ = adapter._pad(sources, adapter.padding_side)  # (rows, source)
        self._count(sources)
        encoder = adapter.model.get_encoder()
        states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (rows, source, hidden)
        rows = [(position, index) for position, group in enumerate(groups) for index in group.members]
        shapes = [(0, ids.shape[1] + len(items[index][1])) for _, index in rows]
        order = sorted(range(len(rows)), key=lambda row: -shapes[row][1])
        start_token, results, start = adapter._decoder_start_token_id(), {}, 0
        while start < len(order):
            batch = [rows[row] for row in adapter.next_batch(shapes, order, start)]
            start += len(batch)
            select = torch.tensor([position for position, _ in batch], device=ids.device)  # (rows,)
            targets = [items[index][1] for _, index in batch]
            decoder_ids, decoder_mask, _ = adapter._pad([[start_token] + t[:-1] for t in targets], "right")
            self._count(targets)
            logits = adapter.model(
                encoder_outputs=BaseModelOutput(last_hidden_state=states[select]),
                attention_mask=mask[select],
                decoder_input_ids=decoder_ids,
                decoder_attention_mask=decoder_mask,
            ).logits  # (rows, tgt, vocab)
            for (_, index), result in zip(batch, score_rows(logits, targets)):
                results[index] = result
        return [[results[index] for index in group.members] for group in groups]


def _past(outputs, row: int, length: int) -> Past:
    """Row `row`'s first `length` cached keys and values of a forward's outputs (views)."""
    cache = output_cache(outputs)
    if type(cache) is not DynamicCache or any(type(layer) is not DynamicLayer for layer in cache.layers):
        layers = sorted({type(layer).__name__ for layer in getattr(cache, "layers", [])})
        raise NotShareable(f"its forward returned {type(cache).__name__} {layers}, not a DynamicCache of DynamicLayers")
    return [(layer.keys[row : row + 1, :, :length], layer.values[row : row + 1, :, :length]) for layer in cache.layers]


def _length(past: Past | None) -> int:
    return past[0][0].shape[2] if past else 0


def _left_padded_cache(pasts: list[Past | None], width: int) -> DynamicCache:
    """A DynamicCache holding each row's past, padded on the left to `width` positions with zeros."""
    cache = DynamicCache()
    shared = all(past is pasts[0] for past in pasts)  # step 2: one past of `width` positions for every row
    for layer, (keys, values) in enumerate(next(past for past in pasts if past)):
        if shared:
            cache.update(keys.expand(len(pasts), -1, -1, -1), values.expand(len(pasts), -1, -1, -1), layer)
            continue
        row_keys = keys.new_zeros((len(pasts), keys.shape[1], width, keys.shape[3]))  # (rows, heads, past, dim)
        row_values = values.new_zeros((len(pasts), values.shape[1], width, values.shape[3]))  # (rows, heads, past, dim)
        for row, past in enumerate(pasts):
            if past:
                row_keys[row, :, width - _length(past) :] = past[layer][0][0]
                row_values[row, :, width - _length(past) :] = past[layer][1][0]
        cache.update(row_keys, row_values, layer)
    return cache


def _weights_state(model) -> tuple:
    """Changes whenever a parameter is updated in place (optimizer step, load_state_dict) or replaced."""
    return tuple((parameter.data_ptr(), parameter._version) for parameter in model.parameters())


def _ungroup(groups: list[Group], per_group: list[list], count: int) -> list:
    results: list = [None] * count
    for group, group_results in zip(groups, per_group):
        for index, result in zip(group.members, group_results):
            results[index] = result
    return results


__all__ = [
    "SharedPrefixScorer",
    "NotShareable",
    "Group",
    "group_items",
    "common_prefix_length",
    "whole_tokens",
    "score_rows",
    "WORTH_IT",
]
