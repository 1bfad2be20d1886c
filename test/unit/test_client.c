/* placeholder: being written */
#include "tests.h"
Suite *client_suite(void)
{
    return suite_create("client");
}
