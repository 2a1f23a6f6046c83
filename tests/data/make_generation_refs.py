"""Reference scores for the logits processors behind the GenerationConfig fields sequence_bias,
encoder_repetition_penalty, remove_invalid_values, exponential_decay_length_penalty,
epsilon_cutoff and eta_cutoff, made with transformers' own classes (never with autolm).

autolm follows transformers 5.17, whose generation code differs from later releases here:
SequenceBiasLogitsProcessor skips a sequence longer than the context (5.24: a prefix longer than
it) and rejects token id 0, EncoderRepetitionPenaltyLogitsProcessor touches only the first
`batch` rows of an expanded (beams / num_return_sequences) batch (5.24 repeats the encoder input),
ExponentialDecayLengthPenalty turns a -inf EOS score into NaN (5.24 keeps -inf). So the chain is
built by 5.17's own `GenerationMixin._get_logits_processor` with 5.17's processor classes: either
the installed transformers is 5.17, or pass a 5.17 wheel (`pip download transformers==5.17.0
--no-deps`); its generation/logits_process.py and generation/utils.py are then loaded on top of
the installed package (whose other modules they import).

Run by hand with a virtualenv that has transformers + torch (e.g. bench/setup.sh's):
    python tests/data/make_generation_refs.py [path/to/transformers-5.17.0-py3-none-any.whl]
Writes tests/data/generation/processor_refs.json: per case the HF-named `config` fields,
`input_len` (generate's input_ids_seq_length), `input_ids` (the rows' tokens so far: cur_len is
their length), `encoder_input_ids` (what generate passes: [batch, len], not expanded), `scores`
and `expected` (float32 values; "nan", "inf", "-inf" as strings).
"""
import json
import math
import os
import sys
import types
import zipfile

import torch
import transformers
from transformers import GenerationConfig

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "generation")
WANT = "5.17.0"


def load_517(wheel):
    """(GenerationMixin, version) of transformers 5.17's generation code."""
    if transformers.__version__ == WANT:
        from transformers.generation import utils
        return utils.GenerationMixin, transformers.__version__
    if not wheel:
        sys.exit(f"transformers {transformers.__version__} is installed; pass a transformers-{WANT} wheel")
    z = zipfile.ZipFile(wheel)

    def load(name):
        src = z.read(f"transformers/generation/{name}.py").decode()
        mod = types.ModuleType(f"transformers.generation.{name}_v517")
        mod.__package__ = "transformers.generation"
        sys.modules[mod.__name__] = mod
        exec(compile(src, f"{os.path.basename(wheel)}/transformers/generation/{name}.py", "exec"), mod.__dict__)
        return mod

    lp = load("logits_process")
    utils = load("utils")
    # utils' `from .logits_process import ...` bound the installed classes: use 5.17's instead.
    for name, obj in vars(lp).items():
        if isinstance(obj, type) and name in vars(utils):
            setattr(utils, name, obj)
    return utils.GenerationMixin, WANT + " (" + os.path.basename(wheel) + ")"


class FakeModel:
    """What `_get_logits_processor` reads from `self`."""

    def __init__(self, mixin, is_encoder_decoder):
        self.config = types.SimpleNamespace(is_encoder_decoder=is_encoder_decoder)
        self._mixin = mixin

    def _merge_criteria_processor_list(self, default_list, custom_list):
        return self._mixin._merge_criteria_processor_list(self, default_list, custom_list)


def enc(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def rows(t):
    return [[enc(v) for v in r] for r in t.tolist()]


def random_scores(n_rows, vocab, seed, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n_rows, vocab, generator=g) * scale).float()


def run_case(mixin, name, config, input_ids, scores, input_len=None, encoder_input_ids=None, seq2seq=False):
    input_ids = torch.tensor(input_ids, dtype=torch.long)
    scores = torch.as_tensor(scores, dtype=torch.float32)
    if input_len is None:
        input_len = input_ids.shape[1]
    if encoder_input_ids is None:
        encoder_input_ids = input_ids  # causal: generate passes the prompt
    encoder_input_ids = torch.tensor(encoder_input_ids, dtype=torch.long) if isinstance(encoder_input_ids, list) \
        else encoder_input_ids
    fields = dict(GenerationConfig._get_default_generation_params())
    fields.update(config)
    fields["max_length"] = 1000
    gc = GenerationConfig(**fields)
    eos = config.get("eos_token_id")
    gc._eos_token_tensor = None if eos is None else torch.tensor([eos] if isinstance(eos, int) else eos)
    procs = mixin._get_logits_processor(FakeModel(mixin, seq2seq), generation_config=gc,
                                        input_ids_seq_length=input_len, encoder_input_ids=encoder_input_ids,
                                        prefix_allowed_tokens_fn=None, logits_processor=None, device="cpu",
                                        model_kwargs={}, negative_prompt_ids=None,
                                        negative_prompt_attention_mask=None)
    expected = procs(input_ids, scores.clone())
    if len(procs) > 1:  # can the case tell the order? (report the adjacent swaps it cannot see)
        for i in range(len(procs) - 1):
            swapped = list(procs)
            swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
            out = scores.clone()
            for p in swapped:
                out = p(input_ids, out)
            if torch.equal(torch.nan_to_num(out, nan=7.0), torch.nan_to_num(expected, nan=7.0)):
                print(f"{name}: swapping {type(procs[i]).__name__} and {type(procs[i + 1]).__name__} gives the same")
    return {"name": name, "config": config, "input_len": int(input_len), "input_ids": input_ids.tolist(),
            "encoder_input_ids": encoder_input_ids.tolist(), "processors": [type(p).__name__ for p in procs],
            "scores": rows(scores), "expected": rows(expected)}


def main():
    mixin, version = load_517(sys.argv[1] if len(sys.argv) > 1 else None)
    cases = []

    def add(*args, **kw):
        cases.append(run_case(mixin, *args, **kw))

    # --- sequence_bias: one-token entries always; longer ones when the row ends with their prefix.
    # [2, 5] appears twice (the dict keeps its first position and last bias); [3] twice as well.
    sb = [[[3], 2.5], [[7], -1.25], [[2, 5], 1.5], [[4, 2, 5], 0.75], [[2, 3], -0.5], [[3], 4.0],
          [[9, 8, 1], 3.0], [[6, 5], 0.25], [[2, 5], 1.0], [[1, 5], 0.125]]
    s = random_scores(4, 10, 1)
    s[3, 5] = -math.inf  # a biased -inf stays -inf
    add("sequence_bias_single_and_multi", {"sequence_bias": sb},
        [[6, 4, 2], [1, 2, 9], [4, 9, 8], [7, 7, 6]], s)
    sb2 = [[[4, 2, 5], 1.0], [[2, 5], 2.0], [[7, 4, 2, 6], 5.0], [[4, 2], 0.5]]
    # 5.17: a sequence longer than the context is skipped even if its prefix fills the context.
    add("sequence_bias_longer_than_context", {"sequence_bias": sb2}, [[4, 2]], random_scores(1, 8, 2))
    add("sequence_bias_context_fits", {"sequence_bias": sb2}, [[1, 4, 2]], random_scores(1, 8, 2))

    # --- encoder_repetition_penalty: the encoder input's (causal: the prompt's) tokens, each once.
    s = torch.tensor([[-1.5, 2.0, 0.5, -0.25, 3.0, 1.0, 0.0, -2.0, 4.5]])
    for p in (2.0, 0.5, 1.7):  # float32(1 / 1.7) != 1 / float32(1.7)
        add(f"encoder_repetition_penalty_{p}", {"encoder_repetition_penalty": p}, [[3, 3]], s,
            encoder_input_ids=[[1, 4, 4, 7, 0, 6]], seq2seq=True)
    # Expanded batch (2 inputs x 2 beams): 5.17 penalises rows 0 and 1 with inputs 0 and 1.
    add("encoder_repetition_penalty_expanded_rows", {"encoder_repetition_penalty": 1.5},
        [[0, 1], [0, 1], [0, 1], [0, 1]], random_scores(4, 9, 3), encoder_input_ids=[[1, 4, 7], [2, 5, 7]],
        seq2seq=True, input_len=1)
    # Causal: the prompt is the encoder input.
    add("encoder_repetition_penalty_causal_prompt", {"encoder_repetition_penalty": 1.25},
        [[5, 2, 8]], random_scores(1, 9, 4))

    # --- remove_invalid_values
    s = torch.tensor([[1.0, math.nan, math.inf, -math.inf, -3.5, 0.0]])
    add("remove_invalid_values", {"remove_invalid_values": True}, [[1]], s)

    # --- exponential_decay_length_penalty: regulation_start = start_index + input_len.
    s = torch.tensor([[0.5, 1.0, -2.0, 1.75, 0.0, -1.0], [0.5, 1.0, -2.0, -1.75, 0.0, -1.0]])
    decay = {"exponential_decay_length_penalty": [2, 1.5], "eos_token_id": 3}
    add("exp_decay_at_start", decay, [[1] * 6] * 2, s, input_len=4)  # cur_len 6 = start: unchanged
    add("exp_decay_one_past_start", decay, [[1] * 7] * 2, s, input_len=4)
    add("exp_decay_factor_1.1", {"exponential_decay_length_penalty": [2, 1.1], "eos_token_id": 3},
        [[1] * 11] * 2, s, input_len=4)
    add("exp_decay_seq2seq_two_eos", {"exponential_decay_length_penalty": [0, 0.8], "eos_token_id": [3, 5]},
        [[0, 1, 2, 3]] * 2, s, input_len=1, encoder_input_ids=[[4, 4], [4, 4]], seq2seq=True)
    s = torch.tensor([[0.5, 1.0, -2.0, -math.inf, 0.0, -1.0], [0.5, 1.0, -2.0, math.inf, 0.0, -1.0]])
    for f in (1.5, 0.5):  # 5.17: -inf EOS becomes NaN when the factor grows (5.24 keeps -inf)
        add(f"exp_decay_non_finite_eos_{f}", {"exponential_decay_length_penalty": [1, f], "eos_token_id": 3},
            [[1] * 5] * 2, s, input_len=2)

    # --- epsilon_cutoff / eta_cutoff (sampling warpers); min_tokens_to_keep = #eos + 1 in beam sampling.
    add("epsilon_random", {"do_sample": True, "top_k": 0, "epsilon_cutoff": 0.03}, [[1]] * 3,
        random_scores(3, 16, 5, 1.5))
    add("epsilon_min_keep_beam_sample",
        {"do_sample": True, "num_beams": 3, "eos_token_id": [1, 2], "top_k": 0, "epsilon_cutoff": 0.3},
        [[1]] * 3, random_scores(3, 16, 6, 2.0))
    ties = torch.tensor([[0.5] * 10, [5.0, 4.0, 3.0, 3.0, 3.0, 1.0, 0.0, -1.0, -2.0, -3.0],
                         [2.0, 2.0, 1.0, 0.0, -math.inf, -1.0, -math.inf, 0.5, 0.25, 1.5]])
    add("epsilon_ties_min_keep_3",
        {"do_sample": True, "num_beams": 2, "eos_token_id": [1, 2], "top_k": 0, "epsilon_cutoff": 0.9},
        [[1]] * 3, ties)
    add("epsilon_ties_min_keep_1", {"do_sample": True, "top_k": 0, "epsilon_cutoff": 0.2}, [[1]] * 3, ties)
    s = torch.cat([random_scores(1, 16, 7, 1.0), random_scores(1, 16, 8, 3.0), random_scores(1, 16, 9, 6.0)])
    add("eta_random", {"do_sample": True, "top_k": 0, "eta_cutoff": 0.02}, [[1]] * 3, s)
    add("eta_large", {"do_sample": True, "top_k": 0, "eta_cutoff": 0.3}, [[1]] * 3, s)
    add("eta_ties_min_keep_3",
        {"do_sample": True, "num_beams": 2, "eos_token_id": [1, 2], "top_k": 0, "eta_cutoff": 0.9},
        [[1]] * 3, ties)
    add("eta_ties_min_keep_2",
        {"do_sample": True, "num_beams": 4, "eos_token_id": 1, "top_k": 0, "eta_cutoff": 0.5}, [[1]] * 3, ties)

    # --- the whole chain in transformers' order. The processors touch the same tokens (the
    # prompt's, EOS) so that another order would give other scores.
    s = random_scores(4, 12, 10, 2.0)
    s[0, 9] = math.nan
    add("pipeline_sampling",
        {"sequence_bias": [[[4], -1.5], [[4, 3], 2.0], [[5], 0.5]], "encoder_repetition_penalty": 1.7,
         "repetition_penalty": 1.1, "remove_invalid_values": True, "exponential_decay_length_penalty": [1, 1.2],
         "eos_token_id": 2, "suppress_tokens": [7], "do_sample": True, "num_beams": 2, "temperature": 0.7,
         "top_k": 0, "epsilon_cutoff": 0.004, "eta_cutoff": 0.01},
        [[1, 3, 4, 2, 6, 3, 4], [1, 3, 4, 5, 8, 0, 4], [1, 3, 4, 10, 11, 2, 2], [1, 3, 4, 9, 9, 1, 3]], s,
        input_len=3, encoder_input_ids=[[1, 3, 4], [1, 3, 4], [1, 3, 4], [1, 3, 4]])
    # Eta's entropy is that of what epsilon left: many small probabilities.
    add("pipeline_epsilon_then_eta", {"do_sample": True, "top_k": 0, "epsilon_cutoff": 0.02, "eta_cutoff": 0.2},
        [[1]] * 4, random_scores(4, 40, 12, 1.5))
    s = random_scores(1, 12, 11, 2.0)
    s[0, 2] = -math.inf  # remove_invalid_values first makes it finite for the decay
    add("pipeline_greedy_renormalize",
        {"sequence_bias": [[[4], -0.5], [[6, 2], 0.75]], "exponential_decay_length_penalty": [0, 1.25],
         "eos_token_id": [2, 4], "remove_invalid_values": True, "renormalize_logits": True},
        [[8, 6, 5, 6]], s, input_len=2, encoder_input_ids=[[8, 6]])

    os.makedirs(HERE, exist_ok=True)
    out = {"versions": {"transformers": version, "torch": torch.__version__}, "cases": cases}
    with open(os.path.join(HERE, "processor_refs.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
