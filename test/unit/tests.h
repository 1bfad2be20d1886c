/* Unit test suites (Check), one per core file; test_main.c runs them all. */
#ifndef ACME_TESTS_H
#define ACME_TESTS_H

#include <check.h>

Suite *util_suite(void);
Suite *crypto_suite(void);
Suite *jws_suite(void);
Suite *cert_suite(void);
Suite *client_suite(void);
Suite *driver_suite(void);
Suite *store_suite(void);
Suite *plan_suite(void);
Suite *settings_suite(void);
Suite *activation_suite(void);
Suite *verify_suite(void);
Suite *install_suite(void);
Suite *pending_suite(void);
Suite *challenge_suite(void);
Suite *state_suite(void);
Suite *ari_suite(void);
Suite *notify_suite(void);
Suite *expiry_suite(void);
Suite *sched_suite(void);
Suite *parallel_suite(void);
Suite *eab_suite(void);
Suite *profile_suite(void);
Suite *spec_suite(void);
Suite *runner_suite(void);
Suite *chains_suite(void);
Suite *keyreuse_suite(void);
Suite *keytypes_suite(void);
Suite *account_suite(void);
Suite *ca_suite(void);
Suite *ident_suite(void);
Suite *groups_suite(void);
Suite *sni_suite(void);
Suite *https_suite(void);
Suite *stateless_suite(void);
Suite *fleet_suite(void);
Suite *fleet_db_suite(void);

#endif
