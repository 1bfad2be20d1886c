/* placeholder: being written */
#include "tests.h"
Suite *plan_suite(void)
{
    return suite_create("plan");
}
