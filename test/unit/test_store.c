/* placeholder: being written */
#include "tests.h"
Suite *store_suite(void)
{
    return suite_create("store");
}
