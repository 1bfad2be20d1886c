/* placeholder: being written */
#include "tests.h"
Suite *crypto_suite(void)
{
    return suite_create("crypto");
}
