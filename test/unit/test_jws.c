/* placeholder: being written */
#include "tests.h"
Suite *jws_suite(void)
{
    return suite_create("jws");
}
