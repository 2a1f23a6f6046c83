"""AutoTokenizer in transformers' shape over the native tokenizer (tokenizer.json, SentencePiece,
GPT-2 files) and chat templates."""
import json
import os

from . import _autolm
from ._tensors import as_tensor, to_rows


class BatchEncoding(dict):
    """transformers' BatchEncoding: a dict (input_ids, attention_mask) with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def to(self, device):
        # torch tensors move as in transformers; NumPy arrays and lists stay on the CPU
        return BatchEncoding({k: (v.to(device) if hasattr(v, "to") else v) for k, v in self.items()})

    def convert_to_tensors(self, tensor_type=None):
        for k in list(self):
            self[k] = as_tensor(self[k], tensor_type)
        return self


class AutoTokenizer:
    @staticmethod
    def from_pretrained(pretrained_model_name_or_path, revision=None, **kwargs):
        path = os.fspath(pretrained_model_name_or_path)
        if revision and not os.path.isdir(path):
            path = f"{path}@{revision}"
        unknown = sorted(set(kwargs) - {"use_fast", "trust_remote_code", "padding_side", "truncation_side"})
        if unknown:
            raise ValueError(f"AutoTokenizer.from_pretrained: unsupported arguments {unknown}")
        tok = PreTrainedTokenizer(_autolm.load_tokenizer(path), path)
        for side in ("padding_side", "truncation_side"):
            if side in kwargs:
                setattr(tok, side, kwargs[side])
        return tok


def _ids(x):
    """A sequence of ids (list, NumPy array, torch tensor, or a single int) → list of int."""
    if isinstance(x, int):
        return [x]
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, int):
        return [x]
    return [int(t) for t in x]


class PreTrainedTokenizer:
    """A loaded tokenizer. Calls encode and decode as transformers' fast tokenizers do."""

    def __init__(self, handle, name_or_path):
        self._t = handle
        self.name_or_path = name_or_path
        self.padding_side = handle.padding_side
        self.truncation_side = handle.truncation_side
        self.model_max_length = handle.model_max_length
        self._all_special_ids = None

    # --- special tokens ------------------------------------------------------------------------
    bos_token = property(lambda self: self._t.bos_token)
    eos_token = property(lambda self: self._t.eos_token)
    pad_token = property(lambda self: self._t.pad_token)
    unk_token = property(lambda self: self._t.unk_token)
    bos_token_id = property(lambda self: self._t.bos_token_id)
    eos_token_id = property(lambda self: self._t.eos_token_id)
    pad_token_id = property(lambda self: self._t.pad_token_id)
    unk_token_id = property(lambda self: self._t.unk_token_id)

    @property
    def all_special_ids(self):
        if self._all_special_ids is None:
            self._all_special_ids = [i for i in range(len(self)) if self._t.is_special(i)]
        return self._all_special_ids

    def __len__(self):
        return self._t.vocab_size

    @property
    def vocab_size(self):
        return self._t.vocab_size

    def __repr__(self):
        return f"autolm.PreTrainedTokenizer({self._t.tokenizer_class or 'tokenizer'}, {self.name_or_path})"

    # --- encoding ------------------------------------------------------------------------------
    def __call__(self, text=None, text_pair=None, add_special_tokens=True, padding=False, truncation=None,
                 max_length=None, pad_to_multiple_of=None, return_tensors=None, return_attention_mask=None,
                 padding_side=None, **kwargs):
        if text is None:
            raise ValueError("tokenizer(): text is required")
        if text_pair is not None:
            raise ValueError("tokenizer(): text_pair is not supported by autolm (docs/PYTHON.md)")
        unknown = sorted(set(kwargs) - {"verbose", "return_token_type_ids", "sanitize_control_tokens"})
        if unknown or kwargs.get("sanitize_control_tokens"):
            raise ValueError(f"tokenizer(): unsupported arguments {unknown or ['sanitize_control_tokens']}")
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        if not all(isinstance(t, str) for t in texts):
            raise ValueError("tokenizer(): text must be a string or a list of strings")
        rows = self._t.encode_batch(texts, add_special_tokens)

        truncate = truncation if truncation is not None else max_length is not None
        if truncate and truncation not in (False, "do_not_truncate"):
            limit = max_length if max_length is not None else self.model_max_length
            rows = [self._truncate(t, r, limit, add_special_tokens) for t, r in zip(texts, rows)]
        masks = [[1] * len(r) for r in rows]
        rows, masks = self._pad(rows, masks, padding, max_length, pad_to_multiple_of, padding_side or self.padding_side)

        if return_tensors is not None and len({len(r) for r in rows}) > 1:
            raise ValueError("Unable to create tensor, you should probably activate truncation and/or padding with "
                             "'padding=True' 'truncation=True' to have batched tensors with the same length.")
        out = BatchEncoding(input_ids=rows if batched or return_tensors else rows[0])
        if return_attention_mask is not False:
            out["attention_mask"] = masks if batched or return_tensors else masks[0]
        return out.convert_to_tensors(return_tensors)

    def _truncate(self, text, ids, limit, add_special_tokens):
        # transformers truncates the text's tokens and keeps the special tokens its post-processor
        # adds around them (single sequence: a prefix and a suffix).
        if limit is None or len(ids) <= limit:
            return ids
        body = self._t.encode(text, False) if add_special_tokens else ids
        n_special = len(ids) - len(body)
        prefix_len = next((i for i in range(n_special + 1) if ids[i:i + len(body)] == body), 0)
        prefix, suffix = ids[:prefix_len], ids[prefix_len + len(body):]
        keep = max(0, limit - n_special)
        body = body[:keep] if self.truncation_side == "right" else body[len(body) - keep:]
        return prefix + body + suffix

    def _pad(self, rows, masks, padding, max_length, multiple, side):
        if padding in (False, None, "do_not_pad"):
            return rows, masks
        if padding in (True, "longest"):
            target = max(len(r) for r in rows)
        elif padding == "max_length":
            target = max_length if max_length is not None else self.model_max_length
        else:
            raise ValueError(f"padding={padding!r}: expected True, False, 'longest', 'max_length' or 'do_not_pad'")
        if multiple:
            target = -(-target // multiple) * multiple
        if self.pad_token_id is None and any(len(r) < target for r in rows):
            raise ValueError("Asking to pad but the tokenizer does not have a padding token. Please select a token to "
                             "use as `pad_token` (the tokenizer folder's pad_token)")
        out_rows, out_masks = [], []
        for r, m in zip(rows, masks):
            n = target - len(r)
            if n <= 0:
                out_rows.append(r)
                out_masks.append(m)
            elif side == "left":
                out_rows.append([self.pad_token_id] * n + r)
                out_masks.append([0] * n + m)
            else:
                out_rows.append(r + [self.pad_token_id] * n)
                out_masks.append(m + [0] * n)
        return out_rows, out_masks

    def encode(self, text, add_special_tokens=True, return_tensors=None, **kwargs):
        ids = self(text, add_special_tokens=add_special_tokens, return_tensors=return_tensors,
                   return_attention_mask=False, **kwargs)["input_ids"]
        return ids

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            i = self._t.token_to_id(tokens)
            return self.unk_token_id if i is None else i
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens=False):
        if isinstance(ids, int):
            return self._t.id_to_token(ids)
        return [self._t.id_to_token(i) for i in _ids(ids) if not (skip_special_tokens and self._t.is_special(i))]

    # --- decoding ------------------------------------------------------------------------------
    def decode(self, token_ids, skip_special_tokens=False, clean_up_tokenization_spaces=None, **kwargs):
        ids = _ids(token_ids)
        if ids and isinstance(ids[0], list):
            raise ValueError("decode() takes one sequence; use batch_decode() for several")
        return self._t.decode(ids, skip_special_tokens, clean_up_tokenization_spaces)

    def batch_decode(self, sequences, skip_special_tokens=False, clean_up_tokenization_spaces=None, **kwargs):
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]

    # --- chat ----------------------------------------------------------------------------------
    def apply_chat_template(self, conversation, tools=None, documents=None, chat_template=None,
                            add_generation_prompt=False, continue_final_message=False, tokenize=True, padding=False,
                            truncation=False, max_length=None, return_tensors=None, return_dict=True,
                            return_assistant_tokens_mask=False, tokenizer_kwargs=None, **kwargs):
        """transformers 5's apply_chat_template: the rendered text (tokenize=False), else the
        tokenized chat as a BatchEncoding (return_dict=True, the default) or its input_ids."""
        if return_assistant_tokens_mask:
            raise ValueError("return_assistant_tokens_mask is not supported by autolm (docs/PYTHON.md)")
        if tools is not None and any(callable(t) for t in tools):
            raise ValueError("tools must be JSON schemas (dicts); Python functions are not converted by autolm")
        if continue_final_message and add_generation_prompt:
            raise ValueError("continue_final_message and add_generation_prompt are not compatible. Use "
                             "continue_final_message when you want the model to continue the final message, and "
                             "add_generation_prompt when you want to add a header that will prompt it to start a new "
                             "assistant message instead.")
        if isinstance(conversation, (list, tuple)) and len(conversation) == 0:
            raise ValueError("Cannot apply chat template to an empty conversation. Provide at least one message.")
        batched = isinstance(conversation, (list, tuple)) and isinstance(conversation[0], (list, tuple))
        conversations = list(conversation) if batched else [conversation]
        cfm = continue_final_message
        cfm = "" if cfm is False or cfm is None else ("content" if cfm is True else str(cfm))
        name = ""
        source = None
        if chat_template is not None:
            if "{{" in chat_template or "{%" in chat_template:
                source = chat_template
            else:
                name = chat_template
        rendered = []
        for conv in conversations:
            args = (json.dumps(list(conv)), bool(add_generation_prompt), cfm,
                    "" if tools is None else json.dumps(tools), "" if documents is None else json.dumps(documents),
                    json.dumps(kwargs) if kwargs else "")
            if source is not None:
                rendered.append(_autolm.render_chat_template(self._t, source, *args))
            else:
                rendered.append(self._t.apply_chat_template(*args, name))
        if not tokenize:
            return rendered if batched else rendered[0]
        out = self(rendered if batched else rendered[0], add_special_tokens=False, padding=padding,
                   truncation=truncation, max_length=max_length, return_tensors=return_tensors,
                   **(tokenizer_kwargs or {}))
        return out if return_dict else out["input_ids"]
