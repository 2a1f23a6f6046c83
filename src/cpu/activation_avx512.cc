#define AUTOLM_ACT_NAME activation_avx512
#define AUTOLM_SOFTMAX_NAME softmax_avx512
#include "cpu/activation_impl.h"
