#define AUTOLM_ACT_NAME activation_avx2
#define AUTOLM_SOFTMAX_NAME softmax_avx2
#include "cpu/activation_impl.h"
