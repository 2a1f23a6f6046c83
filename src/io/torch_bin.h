// PyTorch checkpoints (`pytorch_model.bin`, torch.save's zip format) read without running any
// code: the zip's central directory is parsed and bounds-checked, `data.pkl` is interpreted by a
// restricted unpickler that knows only what torch.load(weights_only=True) accepts (tensor
// rebuild functions, storages by dtype, OrderedDict, primitive containers), and each tensor is
// a view into its storage entry, memory-mapped in place (torch stores entries uncompressed).
// Anything else — legacy (non-zip) pickles, other globals (os.system, builtins.eval…), opcodes
// that build arbitrary objects, storages too small for their tensors — is an Error naming the
// file and what it met.
#pragma once

#include <map>
#include <string>

#include "io/mmap.h"
#include "io/safetensors.h"

namespace autolm {

class TorchBinFile {
 public:
  explicit TorchBinFile(const std::string& path);
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::string& path() const { return map_.path(); }

 private:
  MappedFile map_;
  std::map<std::string, TensorInfo> tensors_;
};

}  // namespace autolm
