#define AUTOLM_ACT_NAME activation_scalar
#include "cpu/activation_impl.h"
