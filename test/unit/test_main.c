/* Runs every unit suite of the core library. */
#include <stdlib.h>
#include <apr_general.h>
#include "tests.h"
#include "acme_http.h"

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    acme_http_curl_global_init();

    SRunner *sr = srunner_create(util_suite());
    srunner_add_suite(sr, crypto_suite());
    srunner_add_suite(sr, jws_suite());
    srunner_add_suite(sr, cert_suite());
    srunner_add_suite(sr, client_suite());
    srunner_add_suite(sr, driver_suite());
    srunner_add_suite(sr, account_suite());
    srunner_add_suite(sr, store_suite());
    srunner_add_suite(sr, plan_suite());
    srunner_add_suite(sr, settings_suite());
    srunner_add_suite(sr, activation_suite());
    srunner_add_suite(sr, verify_suite());
    srunner_add_suite(sr, install_suite());
    srunner_add_suite(sr, pending_suite());
    srunner_add_suite(sr, challenge_suite());
    srunner_add_suite(sr, state_suite());
    srunner_add_suite(sr, ari_suite());
    srunner_add_suite(sr, notify_suite());
    srunner_add_suite(sr, expiry_suite());
    srunner_add_suite(sr, sched_suite());
    srunner_add_suite(sr, parallel_suite());
    srunner_add_suite(sr, eab_suite());
    srunner_add_suite(sr, profile_suite());
    srunner_add_suite(sr, groups_suite());
    srunner_add_suite(sr, sni_suite());
    srunner_add_suite(sr, spec_suite());
    srunner_add_suite(sr, runner_suite());
    srunner_add_suite(sr, chains_suite());
    srunner_add_suite(sr, keyreuse_suite());
    srunner_add_suite(sr, keytypes_suite());
    srunner_add_suite(sr, ca_suite());
    srunner_add_suite(sr, ident_suite());
    srunner_add_suite(sr, https_suite());
    srunner_add_suite(sr, stateless_suite());
    srunner_add_suite(sr, fleet_suite());
    srunner_add_suite(sr, fleet_db_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
