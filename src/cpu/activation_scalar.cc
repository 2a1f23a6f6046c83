#define AUTOLM_ACT_NAME activation_scalar
#define AUTOLM_SOFTMAX_NAME softmax_scalar
#include "cpu/activation_impl.h"
