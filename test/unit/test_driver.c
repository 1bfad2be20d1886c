/* placeholder: being written */
#include "tests.h"
Suite *driver_suite(void)
{
    return suite_create("driver");
}
