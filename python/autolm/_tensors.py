"""Conversions between the caller's arrays (lists, NumPy, torch) and the native layer's lists."""
import numpy as np


def _is_torch(x):
    t = type(x)
    return t.__module__.startswith("torch") and t.__name__ == "Tensor"


def to_rows(x, name):
    """A 1-D or 2-D sequence of token ids → list of lists of int (one row per sequence)."""
    if x is None:
        return None
    if _is_torch(x):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object:
        raise ValueError(f"{name}: rows of different lengths; pad them (tokenizer(..., padding=True))")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 1-D or 2-D array of token ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.bool_):
            arr = arr.astype(np.int64)
        elif np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name}: expected integer token ids, got {arr.dtype}")
    return arr.astype(np.int64).tolist()


def like(template, rows, dtype=np.int64):
    """rows as the caller's kind of array: a torch tensor when the input was one, else NumPy."""
    arr = np.asarray(rows, dtype=dtype)
    if template is not None and _is_torch(template):
        import torch

        return torch.from_numpy(arr)
    return arr


def as_tensor(value, return_tensors):
    """BatchEncoding conversion: "np" → NumPy, "pt" → torch, None → unchanged lists."""
    if return_tensors is None:
        return value
    if return_tensors == "np":
        return np.asarray(value, dtype=np.int64)
    if return_tensors == "pt":
        import torch

        return torch.tensor(value, dtype=torch.long)
    raise ValueError(f"return_tensors={return_tensors!r} is not supported (\"np\", \"pt\" or None)")
