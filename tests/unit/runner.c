/* runner.c: the one CUnit runner; every suite registers itself here.
 * Usage: runner [SUITE]  (runs one suite when named).  Exit 1 on any failure. */
#include "config.h"
#include "sf-test.h"
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
  if (CU_initialize_registry () != CUE_SUCCESS)
    return 1;
  sf_test_register_timer ();
  sf_test_register_dispatch ();
  sf_test_register_loader ();
  sf_test_register_registry ();
  sf_test_register_config ();
  sf_test_register_sip_parse ();
  sf_test_register_sip_digest ();
  sf_test_register_sip_build ();
  sf_test_register_sip_transport ();
  sf_test_register_sip_resolve ();
  sf_test_register_sip_dialog ();
  sf_test_register_sip_txn_key ();
  sf_test_register_ua_prack ();
  sf_test_register_ua_subscribe ();
  sf_test_register_ua_refer ();
  sf_test_register_ua_leg ();
  sf_test_register_flow_token ();
  sf_test_register_txn ();
  sf_test_register_sdp ();
  sf_test_register_srtp ();
  sf_test_register_media ();
  sf_test_register_tone ();
  sf_test_register_location ();
  sf_test_register_users ();
  sf_test_register_proxy ();
  sf_test_register_sdk ();
  sf_test_register_flow ();
  sf_test_register_metrics ();
  sf_test_register_ua_timer ();
  sf_test_register_ua_update ();
  sf_test_register_ua_message ();
  sf_test_register_ua_replaces ();
  sf_test_register_b2bua ();
  sf_test_register_b2bua_leg2 ();
  sf_test_register_b2bua_media ();
  sf_test_register_route ();
  sf_test_register_workers ();
  sf_test_register_location_mirror ();
  sf_test_register_events_golden ();
  CU_basic_set_mode (CU_BRM_VERBOSE);
  if (argc > 1) {
    CU_pSuite suite = CU_get_suite (argv[1]);
    if (suite == NULL) {
      fprintf (stderr, "runner: no suite '%s'\n", argv[1]);
      CU_cleanup_registry ();
      return 2;
    }
    CU_basic_run_suite (suite);
  } else {
    CU_basic_run_tests ();
  }
  unsigned failures = CU_get_number_of_failures () + CU_get_number_of_tests_failed ();
  unsigned run = CU_get_number_of_tests_run ();
  unsigned asserts = CU_get_number_of_asserts ();
  printf ("\nsipflow unit tests: %u tests run, %u assertions, %u failures\n", run, asserts,
          CU_get_number_of_tests_failed ());
  CU_cleanup_registry ();
  return failures == 0 && run > 0 ? 0 : 1;
}
