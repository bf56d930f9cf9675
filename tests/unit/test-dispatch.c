#include "config.h"
#include "sf-test.h"
void sf_test_register_dispatch (void) {}
