#include "autolm/version.h"

namespace autolm {

const char* version() { return AUTOLM_VERSION_STRING; }

}  // namespace autolm
