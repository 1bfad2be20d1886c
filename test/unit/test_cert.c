/* placeholder: being written */
#include "tests.h"
Suite *cert_suite(void)
{
    return suite_create("cert");
}
