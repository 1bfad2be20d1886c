/* placeholder: being written */
#include "tests.h"
Suite *util_suite(void)
{
    return suite_create("util");
}
