/* mod_acme glue: log line tags and status codes for httpd's log. */
#ifndef MOD_ACME_LOG_H
#define MOD_ACME_LOG_H

#include "acme.h"

/* Our own log message tags (never httpd's AH numbers); the next free number is kept in
 * mod_acme/next-logno. Admins and tests can key on them. */
#define ACMELOGNO(n) "ACME" #n ": "

/* Our own status codes mean nothing to httpd's log ("APR does not understand this error
 * code"): log them as 0 and let the message say what happened. */
#define ACME_LOG_RV(rv) ((rv) > ACME_STATUS_BASE && (rv) < ACME_STATUS_BASE + 1000 ? 0 : (rv))

#endif
