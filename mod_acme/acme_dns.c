/* DNS TXT look-ups for the dns-01 propagation check. */
#include <string.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>

#include <apr_strings.h>

#include "acme.h"
#include "acme_dns.h"

apr_status_t acme_dns_server_parse(const char **paddr, int *pport, apr_pool_t *p,
                                   const char *server)
{
    const char *colon = strrchr(server, ':');
    struct in_addr in;
    char *addr;
    long port = 53;

    if (colon) {
        char *end;
        port = strtol(colon + 1, &end, 10);
        if (*end || port <= 0 || port > 65535) {
            return APR_EINVAL;
        }
        addr = apr_pstrmemdup(p, server, (apr_size_t)(colon - server));
    }
    else {
        addr = apr_pstrdup(p, server);
    }
    if (inet_pton(AF_INET, addr, &in) != 1) {
        return APR_EINVAL;
    }
    *paddr = addr;
    *pport = (int)port;
    return APR_SUCCESS;
}

apr_status_t acme_dns_txt(apr_array_header_t **pvalues, apr_pool_t *p, const char *name,
                          const char *server)
{
    struct __res_state st;
    unsigned char answer[8192];
    ns_msg msg;
    int len, i, n;
    apr_status_t rv = APR_SUCCESS;

    *pvalues = apr_array_make(p, 2, sizeof(const char *));
    memset(&st, 0, sizeof(st));
    if (res_ninit(&st) != 0) {
        return APR_EGENERAL;
    }
    if (server) {
        const char *addr;
        int port;
        if (acme_dns_server_parse(&addr, &port, p, server) != APR_SUCCESS) {
            rv = APR_EINVAL;
            goto leave;
        }
        memset(&st.nsaddr_list[0], 0, sizeof(st.nsaddr_list[0]));
        st.nsaddr_list[0].sin_family = AF_INET;
        st.nsaddr_list[0].sin_port = htons((unsigned short)port);
        inet_pton(AF_INET, addr, &st.nsaddr_list[0].sin_addr);
        st.nscount = 1;
    }
    st.retrans = 2;
    st.retry = 2;
    len = res_nquery(&st, name, ns_c_in, ns_t_txt, answer, sizeof(answer));
    if (len < 0) {
        /* no such name, or no TXT record: nothing published (yet) */
        if (st.res_h_errno == HOST_NOT_FOUND || st.res_h_errno == NO_DATA) {
            goto leave;
        }
        rv = APR_EGENERAL;
        goto leave;
    }
    if (ns_initparse(answer, len, &msg) != 0) {
        rv = ACME_EPROTO;
        goto leave;
    }
    n = ns_msg_count(msg, ns_s_an);
    for (i = 0; i < n; ++i) {
        ns_rr rr;
        const unsigned char *rd, *end;
        char *value;
        apr_size_t vlen = 0;
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_txt) {
            continue;
        }
        rd = ns_rr_rdata(rr);
        end = rd + ns_rr_rdlen(rr);
        value = apr_palloc(p, (apr_size_t)ns_rr_rdlen(rr) + 1);
        while (rd < end) {
            unsigned int slen = *rd++;
            if (rd + slen > end) {
                break;
            }
            memcpy(value + vlen, rd, slen);
            vlen += slen;
            rd += slen;
        }
        value[vlen] = '\0';
        APR_ARRAY_PUSH(*pvalues, const char *) = value;
    }
leave:
    res_nclose(&st);
    return rv;
}
