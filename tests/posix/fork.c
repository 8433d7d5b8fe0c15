#include "ptap.h"
