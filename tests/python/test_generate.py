"""generate() through the package equals transformers' sequences (tests/data/fixtures/refs)."""
import os

import numpy as np
import pytest

import autolm
from conftest import FX, load_ref, model_names

MODELS = model_names()
DEMOS = ["t5-numbers", "chat-tiny"]


def folder(name, ref):
    if name in DEMOS:
        return os.path.join(FX, "demo", name)
    # A reference may reuse another fixture's checkpoint with other inputs (led-tiny-global).
    return os.path.join(FX, "models", ref.get("checkpoint", name))


def load(name, ref):
    cls = autolm.AutoModelForSeq2SeqLM if ref["family"] == "seq2seq" else autolm.AutoModelForCausalLM
    return cls.from_pretrained(folder(name, ref))


def extra_inputs(entry):
    """Inputs besides input_ids the reference was generated with (LED's global_attention_mask)."""
    if "global_attention_mask" not in entry:
        return {}
    mask = entry["global_attention_mask"]
    return {"global_attention_mask": np.asarray(mask if isinstance(mask[0], list) else [mask], dtype=np.int64)}


def ref_of(name):
    return load_ref("demo" if name in DEMOS else "models", name + ".json")


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load(name, ref_of(name))
        return cache[name]

    return get


def assert_beam_tie(model, input_ids, params, gen, what):
    """Beam hypotheses whose scores tie to float32 rounding may come out in either order (the
    fixtures README: t5-v1_1-tiny beam4 differs between transformers 5.17 and 5.24 itself). A row
    that differs from the reference must score what the reference row scores."""
    out = model.generate(input_ids, return_dict_in_generate=True, **params)
    ours, theirs = out.sequences.tolist(), gen["sequences"]
    assert len(ours) == len(theirs), what
    differing = [r for r in range(len(ours)) if ours[r] != theirs[r]]
    assert differing, what
    for r in differing:
        assert abs(float(out.sequences_scores[r]) - gen["sequences_scores"][r]) <= 1e-5, f"{what} row {r}: not a tie"


@pytest.mark.parametrize("name", MODELS + DEMOS)
def test_cases_match_transformers(models, name):
    ref = ref_of(name)
    model = models(name)
    assert model.config.model_type
    assert model.config.is_encoder_decoder == (ref["family"] == "seq2seq")
    checked = 0
    for case in ref["cases"]:
        input_ids = np.asarray([case["input_ids"]], dtype=np.int64)
        for label, gen in case["gen"].items():
            params = {**gen["params"], **extra_inputs(case)}
            out = model.generate(input_ids, **params)
            assert isinstance(out, np.ndarray) and out.dtype == np.int64
            if out.tolist() != gen["sequences"] and "sequences_scores" in gen:
                assert_beam_tie(model, input_ids, params, gen, f"{name} {label}")
            else:
                assert out.tolist() == gen["sequences"], f"{name} {label}"
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("name", MODELS + DEMOS)
def test_padded_batch_matches_transformers(models, name):
    ref = ref_of(name)
    batch = ref.get("batch")
    if not batch:
        pytest.skip("no batch reference")
    model = models(name)
    out = model.generate(input_ids=np.asarray(batch["input_ids"]), attention_mask=np.asarray(batch["attention_mask"]),
                         **batch["params"], **extra_inputs(batch))
    assert out.tolist() == batch["sequences"]


def test_beam_scores_and_dict_output(models):
    ref = ref_of("t5-tiny")
    model = models("t5-tiny")
    case = ref["cases"][0]
    gen = case["gen"]["beam4"]
    out = model.generate([case["input_ids"]], return_dict_in_generate=True, output_scores=True, **gen["params"])
    assert type(out).__name__ == "GenerateBeamEncoderDecoderOutput"
    assert out.sequences.tolist() == gen["sequences"]
    assert out["sequences"] is out.sequences and out[0] is out.sequences
    assert out.sequences_scores.shape == (len(gen["sequences"]),)
    if "sequences_scores" in gen:
        np.testing.assert_allclose(out.sequences_scores, gen["sequences_scores"], rtol=1e-4, atol=1e-4)
    # one [batch * num_beams, vocab] array per step, as transformers returns scores
    assert len(out.scores) > 0
    assert out.scores[0].shape[0] == gen["params"]["num_beams"]


def test_greedy_scores_are_the_processed_logits(models):
    model = models("gpt2-tiny")
    ref = ref_of("gpt2-tiny")
    case = ref["cases"][0]
    out = model.generate(np.asarray([case["input_ids"]]), max_new_tokens=5, do_sample=False,
                         return_dict_in_generate=True, output_scores=True)
    assert type(out).__name__ == "GenerateDecoderOnlyOutput"
    assert len(out.scores) == out.sequences.shape[1] - len(case["input_ids"])
    new = out.sequences[0, len(case["input_ids"]):]
    assert [int(s[0].argmax()) for s in out.scores] == new.tolist()


def test_generation_config_object_and_attributes(models):
    model = models("gpt2-tiny")
    ids = np.asarray([ref_of("gpt2-tiny")["cases"][0]["input_ids"]])
    a = model.generate(ids, max_new_tokens=7)
    cfg = autolm.GenerationConfig(max_new_tokens=7, do_sample=False)
    b = model.generate(ids, generation_config=cfg)
    assert a.tolist() == b.tolist() and a.shape[1] == ids.shape[1] + 7
    # model.generation_config changes apply to later calls, like transformers
    old = model.generation_config.max_new_tokens
    model.generation_config.max_new_tokens = 3
    try:
        assert model.generate(ids).shape[1] == ids.shape[1] + 3
    finally:
        model.generation_config.max_new_tokens = old


def test_inputs_as_lists_and_torch(models):
    model = models("gpt2-tiny")
    ids = ref_of("gpt2-tiny")["cases"][0]["input_ids"]
    a = model.generate(ids, max_new_tokens=4)
    b = model.generate([ids], max_new_tokens=4)
    assert a.tolist() == b.tolist()
    torch = pytest.importorskip("torch")
    c = model.generate(torch.tensor([ids]), max_new_tokens=4)
    assert isinstance(c, torch.Tensor) and c.tolist() == a.tolist()


def test_sampling_is_reproducible_with_seed(models):
    model = models("chat-tiny")
    ids = [ref_of("chat-tiny")["cases"][0]["input_ids"]]
    a = model.generate(ids, do_sample=True, seed=7, max_new_tokens=12, temperature=1.3)
    b = model.generate(ids, do_sample=True, seed=7, max_new_tokens=12, temperature=1.3)
    assert a.tolist() == b.tolist()


def test_attention_mask_inferred_from_pad_as_transformers(models):
    # Left padding with the pad token (≠ EOS) and no mask: transformers infers the mask.
    ref = ref_of("gpt2-tiny")
    batch = ref["batch"]
    model = models("gpt2-tiny")
    pad = model.generation_config.pad_token_id
    eos = model.generation_config.eos_token_id
    if pad is None or pad == eos or (isinstance(eos, list) and pad in eos):
        pytest.skip("pad is EOS for this model: transformers does not infer the mask")
    out = model.generate(np.asarray(batch["input_ids"]), **batch["params"])
    assert out.tolist() == batch["sequences"]


def test_global_attention_mask_needs_a_model_with_global_attention(models):
    model = models("gpt2-tiny")
    with pytest.raises(Exception, match="global_attention_mask"):
        model.generate([[5, 6, 7]], global_attention_mask=[[1, 0, 0]], max_new_tokens=2)
