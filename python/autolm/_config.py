"""Configuration objects in transformers' shape: attribute access plus dict-like access."""
import copy
import json

from . import _autolm


class _AttrDict:
    """Fields readable as attributes and as items, like transformers' config classes."""

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}") from None

    def __setattr__(self, name, value):
        self._values[name] = value

    def __getitem__(self, key):
        return self._values[key]

    def __setitem__(self, key, value):
        self._values[key] = value

    def __contains__(self, key):
        return key in self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def get(self, key, default=None):
        return self._values.get(key, default)

    def keys(self):
        return self._values.keys()

    def items(self):
        return self._values.items()

    def to_dict(self):
        return copy.deepcopy(self._values)

    def to_json_string(self):
        return json.dumps(self._values, indent=2, sort_keys=True) + "\n"

    def __eq__(self, other):
        return isinstance(other, type(self)) and self._values == other._values

    def __repr__(self):
        return f"{type(self).__name__} {self.to_json_string()}"


class PretrainedConfig(_AttrDict):
    """config.json as transformers reads it: every key, plus model_type and is_encoder_decoder."""

    @classmethod
    def from_pretrained(cls, path):
        return cls(json.loads(_autolm.config_json(str(path))))

    def __init__(self, values):
        values = dict(values)
        values.setdefault("is_encoder_decoder", False)
        super().__init__(values)


class GenerationConfig(_AttrDict):
    """transformers' GenerationConfig fields, defaults and validation (the C++ GenerationConfig).

    GenerationConfig(**kwargs) starts from the library defaults; from_pretrained(path) reads the
    folder's generation_config.json (or config.json's generation fields); model.generation_config
    is the model's own. Fields may be changed as attributes; generate() validates them.
    """

    # Fields that only shape what generate() returns to Python (the native layer has no use for them).
    PYTHON_FIELDS = {"return_dict_in_generate": False}

    def __init__(self, **kwargs):
        native = {k: v for k, v in kwargs.items() if k not in self.PYTHON_FIELDS}
        super().__init__(json.loads(_autolm.default_generation_config_json(json.dumps(native) if native else "")))
        for k, v in self.PYTHON_FIELDS.items():
            self._values[k] = kwargs.get(k, v)

    @classmethod
    def _from_json(cls, text):
        self = cls.__new__(cls)
        _AttrDict.__init__(self, json.loads(text))
        for k, v in cls.PYTHON_FIELDS.items():
            self._values.setdefault(k, v)
        return self

    @classmethod
    def from_pretrained(cls, path):
        return cls._from_json(_autolm.generation_config_json(str(path)))

    def update(self, **kwargs):
        """Sets the known fields; returns the others, as transformers' update() does."""
        unused = {}
        for k, v in kwargs.items():
            if k in self._values:
                self._values[k] = v
            else:
                unused[k] = v
        return unused
