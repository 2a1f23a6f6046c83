"""AutoModelForCausalLM / AutoModelForSeq2SeqLM and generate() in transformers' shapes."""
import json
import os

import numpy as np

from . import _autolm
from ._config import GenerationConfig, PretrainedConfig
from ._tensors import _is_torch, like, to_rows

# from_pretrained arguments that only matter to a GPU/torch runtime; accepted and ignored.
_IGNORED_LOAD_KWARGS = {"device_map", "low_cpu_mem_usage", "trust_remote_code", "attn_implementation", "use_safetensors"}
# generate() keyword arguments that are neither generation settings nor model inputs but are
# harmless on this engine (use_cache: the KV cache is always used).
_IGNORED_GENERATE_KWARGS = {"use_cache"}


def _dtype_name(dtype):
    if dtype is None:
        return "auto"
    name = dtype if isinstance(dtype, str) else str(dtype).replace("torch.", "")
    if name in ("auto", "float32", "int8", "int4", "int4-g64"):
        return name
    if name == "float":
        return "float32"
    raise ValueError(
        f"dtype={dtype!r} is not supported: \"auto\" (bfloat16/float16 checkpoints kept as stored, float32 "
        "arithmetic), \"float32\", \"int8\" (weight-only int8) or \"int4\" / \"int4-g64\" (group-wise 4-bit)"
    )


def _pretrained_path(path, revision=None):
    path = os.fspath(path)
    if revision and not os.path.isdir(path):
        path = f"{path}@{revision}"
    return path


def _load(cls, family, path, dtype=None, torch_dtype=None, revision=None, local_files_only=False, weight_cache=True,
          **kwargs):
    unknown = sorted(set(kwargs) - _IGNORED_LOAD_KWARGS)
    if unknown:
        raise ValueError(f"{cls.__name__}.from_pretrained: unsupported arguments {unknown}")
    if local_files_only:
        os.environ["HF_HUB_OFFLINE"] = "1"
    # weight_cache=False: int8 / int4 neither read nor write the cache of quantized weights
    # (docs/PERFORMANCE.md, "Instant load"; AUTOLM_NO_CACHE=1 too).
    handle = _autolm.load_model(_pretrained_path(path, revision), family, _dtype_name(dtype if dtype is not None else torch_dtype),
                                bool(weight_cache))
    return PreTrainedModel(handle)


class AutoConfig:
    @staticmethod
    def from_pretrained(path, revision=None, **kwargs):
        return PretrainedConfig.from_pretrained(_pretrained_path(path, revision))


class AutoModelForCausalLM:
    """Decoder-only models (GPT-2, Llama, Mistral, Qwen, Phi, Gemma, …). The class comes from
    config.json; a seq2seq folder is refused with ValueError naming AutoModelForSeq2SeqLM."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        return _load(cls, "causal", pretrained_model_name_or_path, *args, **kwargs)


class AutoModelForSeq2SeqLM:
    """Encoder-decoder models (T5, BART, mBART, Marian, …). A decoder-only folder is refused with
    ValueError naming AutoModelForCausalLM."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        return _load(cls, "seq2seq", pretrained_model_name_or_path, *args, **kwargs)


class ModelOutput(dict):
    """transformers' ModelOutput: a dict whose non-None entries are also attributes and tuple items."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return dict.__getitem__(self, key)

    def to_tuple(self):
        return tuple(v for v in self.values() if v is not None)


class GenerateDecoderOnlyOutput(ModelOutput):
    pass


class GenerateEncoderDecoderOutput(ModelOutput):
    pass


class GenerateBeamDecoderOnlyOutput(ModelOutput):
    pass


class GenerateBeamEncoderDecoderOutput(ModelOutput):
    pass


class PreTrainedModel:
    """A loaded model. Immutable and thread-safe: several threads may call generate() at once
    (the GIL is released while generating)."""

    device = "cpu"

    def __init__(self, handle):
        self._handle = handle
        config = json.loads(handle.config_json())
        config["model_type"] = handle.model_type
        config["is_encoder_decoder"] = handle.family == "seq2seq"
        self.config = PretrainedConfig(config)
        self.generation_config = GenerationConfig._from_json(handle.generation_config_json())
        self.name_or_path = handle.dir

    @property
    def dtype(self):
        return self._handle.weight_dtypes()

    def num_parameters(self):
        return self._handle.parameter_count()

    def to(self, *args, **kwargs):  # CPU engine: nothing to move
        return self

    def eval(self):
        return self

    def __repr__(self):
        return f"autolm.PreTrainedModel({self.config.model_type}, {self.name_or_path})"

    def generate(self, input_ids=None, attention_mask=None, generation_config=None, streamer=None, **kwargs):
        """transformers' generate(): greedy, sampling or beam search by the GenerationConfig fields.

        Returns the sequences as a 2-D int64 array (a torch tensor when input_ids was one); with
        return_dict_in_generate=True an output object with sequences, scores (output_scores=True)
        and sequences_scores (beam search), as transformers returns them.
        """
        if input_ids is None:
            input_ids = kwargs.pop("inputs", None)
        # LED's encoder input (transformers passes it to the encoder): 1 = global attention.
        global_mask = kwargs.pop("global_attention_mask", None)
        template = input_ids
        is_seq2seq = self.config.is_encoder_decoder

        base = generation_config if generation_config is not None else self.generation_config
        base = dict(base.to_dict()) if hasattr(base, "to_dict") else dict(base)
        kwargs = {k: v for k, v in kwargs.items() if k not in _IGNORED_GENERATE_KWARGS}
        for k in ("output_logits", "output_attentions", "output_hidden_states"):
            if kwargs.pop(k, base.pop(k, False)):
                raise ValueError(f"generate({k}=True) is not supported by autolm (docs/PYTHON.md)")
        return_dict = bool(kwargs.pop("return_dict_in_generate", base.pop("return_dict_in_generate", False)))
        overrides = dict(kwargs)
        settings = {**base, **overrides}

        if input_ids is None:
            bos = settings.get("bos_token_id")
            if is_seq2seq or bos is None:
                raise ValueError("generate() needs input_ids" + ("" if is_seq2seq else " (or a bos_token_id)"))
            input_ids = [[bos]]
        rows = to_rows(input_ids, "input_ids")
        if attention_mask is not None:
            mask = to_rows(attention_mask, "attention_mask")
            if len(mask) != len(rows) or any(len(a) != len(b) for a, b in zip(mask, rows)):
                raise ValueError("attention_mask must have the shape of input_ids")
        else:
            mask = self._infer_attention_mask(rows, settings)
        global_rows = to_rows(global_mask, "global_attention_mask") if global_mask is not None else []

        self._refuse_unused(overrides, base)
        on_step = None
        if streamer is not None:
            if is_seq2seq:
                start = settings.get("decoder_start_token_id")
                streamer.put(np.asarray([[self._decoder_start() if start is None else start]], dtype=np.int64))
            else:
                streamer.put(np.asarray(rows, dtype=np.int64))

            def on_step(tokens, finished):
                streamer.put(np.asarray(tokens, dtype=np.int64))

        try:
            out = _autolm.generate(self._handle, rows, mask, json.dumps(base), json.dumps(overrides) if overrides else "",
                                   on_step, global_rows)
            # Seconds inside the C++ generate() and in the step callback (bench/python_overhead.py).
            self._last_timings = out["timings"]
        finally:
            if streamer is not None:
                streamer.end()

        sequences = like(template, out["sequences"])
        if not return_dict:
            return sequences
        as_float = (lambda a: _torch_float(a)) if _is_torch(template) else (lambda a: a)
        beam = out["sequences_scores"] is not None
        cls = {(False, False): GenerateDecoderOnlyOutput, (False, True): GenerateEncoderDecoderOutput,
               (True, False): GenerateBeamDecoderOnlyOutput, (True, True): GenerateBeamEncoderDecoderOutput}[(beam, is_seq2seq)]
        result = cls(sequences=sequences)
        if beam:
            result["sequences_scores"] = as_float(np.asarray(out["sequences_scores"], dtype=np.float32))
        result["scores"] = tuple(as_float(s) for s in out["scores"]) if settings.get("output_scores") else None
        return result

    def _decoder_start(self):
        c = self.config
        for k in ("decoder_start_token_id", "bos_token_id", "pad_token_id"):
            if c.get(k) is not None:
                return c.get(k)
        return 0

    def _infer_attention_mask(self, rows, settings):
        # transformers' _prepare_attention_mask_for_generation: padding is recognised only when the
        # pad token appears in the inputs and is not an EOS token.
        pad = settings.get("pad_token_id")
        eos = settings.get("eos_token_id")
        eos = [] if eos is None else (eos if isinstance(eos, list) else [eos])
        if pad is None or pad in eos or not any(pad in r for r in rows):
            return [[1] * len(r) for r in rows]
        return [[int(t != pad) for t in r] for r in rows]

    @staticmethod
    def _refuse_unused(overrides, base):
        # transformers raises for keyword arguments that are neither generation settings nor model
        # inputs; the native layer ignores unknown keys, so check them here, first letting it name
        # a transformers field it does not support (penalty_alpha, num_beam_groups, …) precisely.
        unused = sorted(k for k in overrides if k not in base)
        if unused:
            _autolm.default_generation_config_json(json.dumps({k: overrides[k] for k in unused}))
            raise ValueError(f"The following `model_kwargs` are not used by the model: {unused}")


def _torch_float(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))
