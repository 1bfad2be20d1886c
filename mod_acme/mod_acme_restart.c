/* mod_acme: the root parent's restarter. When new certificates wait in staging it
 * restarts httpd gracefully, which activates them (post_config) — but only after the
 * configuration passed the check `apachectl configtest` makes: a graceful restart
 * re-reads the configuration, and a half-done edit would otherwise stop the server.
 *
 * The check runs the server's own binary with its -d/-f/-C/-c/-D arguments and -t in a
 * child process (acme_proc: under timeout(1), output captured, reaped). While it fails,
 * activation is blocked: the error log says why (file and line), orders/_activation/
 * blocked.json tells the status pages, acmectl and the worker (which runs ACMENotifyCmd
 * `blocked` once per episode), and the check runs again when the configuration files
 * change or CONFIGTEST_INTERVAL passed. The policy is in acme_activation.c. */
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_listen.h>
#include <unixd.h>

#include "mod_acme_log.h"
#include "mod_acme_generation.h"
#include "mod_acme_restart.h"
#include "mod_acme_ssl.h"
#include "acme_activation.h"
#include "acme_crypto.h"
#include "acme_parallel.h"
#include "acme_proc.h"
#include "acme_util.h"

APLOG_USE_MODULE(acme);

extern char **environ;

/* how often the thread looks at staging/ (an empty directory costs one readdir) */
#define RESTART_LOOK apr_time_from_msec(250)
#define CONFIGTEST_TIMEOUT apr_time_from_sec(30)
#define CONFIGTEST_INTERVAL apr_time_from_sec(60)
/* threads that activate staged sets before a restart (activate_before_restart) */
#define ACTIVATE_THREADS 8

/* What outlives a generation (the process pool): the staged ids our last restart was for,
 * and the certificates the restarter activated before it restarted, for the generation it
 * restarts into (which then says "activated" to the notify program). The pool is
 * unmanaged: the thread allocates from it while the parent forks, and pools sharing the
 * process pool's allocator must not be used from two threads. */
typedef struct restart_mem_t {
    char last_sig[65];                /* hex SHA-256 of the ids, "" before the first */
    apr_interval_time_t cpu_at_restart; /* the parent's CPU when we signalled our last
                                       * restart, -1: no restart of ours pending */
    apr_interval_time_t restart_cost; /* the parent's CPU our last restart took (SIGUSR1 to
                                       * the new generation's post_config end), 0: none */
    apr_time_t signalled;             /* when we sent SIGUSR1 */
    apr_pool_t *pool;
    apr_hash_t *activated;            /* id -> id */
} restart_mem_t;

/* The restarter's state for one generation (pconf). */
struct mod_acme_restart_t {
    restart_mem_t *mem;
    apr_array_header_t *conf_files;   /* files httpd read, and their directories */
    const char *const *argv;          /* the configtest command, NULL: cannot run it */
    const char *argv_error;           /* why not */
    const char *const *env;           /* the server's environment + the listeners */
    acme_activation_t act;            /* when the check ran, on what (strings below) */
    char config_sig[65], staged_sig[65];
    apr_time_t since;                 /* the blocked episode's start, 0: not blocked */
    char reason[600];                 /* the episode's last reason */
    volatile int *stop;               /* the thread's stop flag (NULL: monitor hook) */
};

/* ---- what the check runs on ---------------------------------------------------------- */

static void add_file(apr_array_header_t *files, apr_hash_t *seen, const char *path,
                     apr_pool_t *p)
{
    if (path && *path && !apr_hash_get(seen, path, APR_HASH_KEY_STRING)) {
        apr_hash_set(seen, path, APR_HASH_KEY_STRING, path);
        APR_ARRAY_PUSH(files, const char *) = path;
    }
}

/* Every file the parsed configuration came from (the tree's filename fields) and its
 * directory (a file added to an Include directory changes the directory's mtime). */
static void collect_files(apr_array_header_t *files, apr_hash_t *seen, const ap_directive_t *d,
                          apr_pool_t *p)
{
    for (; d; d = d->next) {
        if (d->filename && d->filename[0] == '/') {
            const char *slash = strrchr(d->filename, '/');
            add_file(files, seen, d->filename, p);
            add_file(files, seen, slash == d->filename ? "/"
                     : apr_pstrmemdup(p, d->filename, (apr_size_t)(slash - d->filename)), p);
        }
        if (d->first_child) {
            collect_files(files, seen, d->first_child, p);
        }
    }
}

static const char *self_exe(apr_pool_t *p)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    static const char deleted[] = " (deleted)";
    if (n <= 0) {
        return NULL;
    }
    buf[n] = '\0';
    if ((size_t)n > sizeof(deleted) - 1 && !strcmp(buf + n - (sizeof(deleted) - 1), deleted)) {
        buf[n - (sizeof(deleted) - 1)] = '\0'; /* replaced by an upgrade: run the new one */
    }
    return apr_pstrdup(p, buf);
}

static const char *const *child_env(mod_acme_gen_t *m, apr_pool_t *p)
{
    apr_array_header_t *env = apr_array_make(p, 32, sizeof(const char *));
    const char *listeners = "";
    ap_listen_rec *lr;
    char **e;

    for (e = environ; e && *e; ++e) {
        if (strncmp(*e, ACME_LISTENERS_ENV "=", sizeof(ACME_LISTENERS_ENV))) {
            APR_ARRAY_PUSH(env, const char *) = apr_pstrdup(p, *e);
        }
    }
    for (lr = ap_listeners; lr; lr = lr->next) {
        char *ip = NULL;
        if (lr->bind_addr && apr_sockaddr_ip_get(&ip, lr->bind_addr) == APR_SUCCESS && ip) {
            listeners = acme_listeners_add(p, listeners, ip, lr->bind_addr->port);
        }
    }
    APR_ARRAY_PUSH(env, const char *) = apr_pstrcat(p, ACME_LISTENERS_ENV "=", listeners, NULL);
    APR_ARRAY_PUSH(env, const char *) = NULL;
    return (const char *const *)env->elts;
}

static restart_mem_t *restart_mem(apr_pool_t *process_pool)
{
    void *data = NULL;
    restart_mem_t *mem;

    apr_pool_userdata_get(&data, "mod_acme_restart_mem", process_pool);
    if (data) {
        return data;
    }
    mem = apr_pcalloc(process_pool, sizeof(*mem));
    if (apr_pool_create_unmanaged_ex(&mem->pool, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    mem->activated = apr_hash_make(mem->pool);
    mem->cpu_at_restart = -1;
    apr_pool_userdata_set(mem, "mod_acme_restart_mem", apr_pool_cleanup_null, process_pool);
    return mem;
}

/* The CPU (user and system) the parent process has used, all its threads. */
static apr_interval_time_t mod_acme_parent_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return 0;
    }
    return apr_time_from_sec(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* In the generation our restart started: what that restart cost the parent, from the
 * signal to here (the configuration of every vhost, mod_ssl's included, is done): the cost
 * every restart pays whatever it activates (the activation before it is paid once a set).
 * acme_restart_due spaces the restarts of a long issuance by it. */
static void mod_acme_restart_measure(mod_acme_gen_t *m, restart_mem_t *mem)
{
    apr_interval_time_t cost, spacing;

    if (!mem) {
        return;
    }
    if (mem->cpu_at_restart < 0) {
        if (!mem->restart_cost) {
            /* no restart of ours measured yet: this process's CPU so far (its start-up, one
             * or two configuration passes) stands for it, so that the first restart of a
             * long first issuance is spaced too (it overestimates by at most 2x) */
            mem->restart_cost = mod_acme_parent_cpu();
        }
        return;
    }
    cost = mod_acme_parent_cpu() - mem->cpu_at_restart;
    mem->cpu_at_restart = -1;
    mem->restart_cost = cost > 0 ? cost : 0;
    spacing = acme_restart_spacing(mem->restart_cost);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00750)
                 "the activation restart took %.2f s of the parent's CPU (%.2f s from the "
                 "signal to here): while more certificates are expected, restarts are at least "
                 "%.1f s apart (at most %d%% of the time)",
                 (double)mem->restart_cost / APR_USEC_PER_SEC,
                 (double)(apr_time_now() - mem->signalled) / APR_USEC_PER_SEC,
                 (double)(spacing > ACME_RESTART_GAP ? spacing : ACME_RESTART_GAP)
                     / APR_USEC_PER_SEC, ACME_RESTART_SHARE);
}

void mod_acme_restart_take_activated(mod_acme_gen_t *m)
{
    restart_mem_t *mem = restart_mem(m->s->process->pool);
    apr_hash_index_t *hi;

    if (!mem || !apr_hash_count(mem->activated)) {
        return;
    }
    for (hi = apr_hash_first(NULL, mem->activated); hi; hi = apr_hash_next(hi)) {
        mod_acme_managed_t *mc = apr_hash_get(m->by_id, apr_hash_this_key(hi),
                                              APR_HASH_KEY_STRING);
        if (mc) {
            mc->activated = 1;
        }
    }
    apr_pool_clear(mem->pool);
    mem->activated = apr_hash_make(mem->pool);
}

static mod_acme_restart_t *restart_setup(mod_acme_gen_t *m, apr_pool_t *pconf)
{
    mod_acme_restart_t *rs = apr_pcalloc(pconf, sizeof(*rs));
    process_rec *proc = m->s->process;
    const char *exe = self_exe(pconf);

    rs->conf_files = apr_array_make(pconf, 16, sizeof(const char *));
    collect_files(rs->conf_files, apr_hash_make(pconf), ap_conftree, pconf);
    if (!exe) {
        rs->argv_error = "cannot find the server's binary (/proc/self/exe)";
    }
    else if (acme_configtest_argv(&rs->argv, pconf, exe, proc->argc,
                                  (const char *const *)proc->argv) != APR_SUCCESS) {
        rs->argv_error = "cannot build the configtest command";
        rs->argv = NULL;
    }
    rs->env = child_env(m, pconf);
    rs->mem = restart_mem(m->s->process->pool);
    return rs;
}

/* ---- the check ----------------------------------------------------------------------- */

/* Run `httpd ... -t`. 1: passes, 0: does not (*preason says why), -1: abandoned (the
 * generation ends). */
static int configtest(mod_acme_gen_t *m, mod_acme_restart_t *rs, const char **preason,
                      apr_pool_t *p)
{
    acme_proc_t *proc;
    const char *out = "";
    int code = -1;
    apr_status_t rv;

    *preason = NULL;
    if (!rs->argv) {
        *preason = rs->argv_error;
        return 0;
    }
    if ((rv = acme_proc_start(&proc, p, rs->argv, rs->env, CONFIGTEST_TIMEOUT))
        != APR_SUCCESS) {
        char err[256];
        *preason = apr_psprintf(p, "cannot run %s -t: %s", rs->argv[0],
                                apr_strerror(rv, err, sizeof(err)));
        return 0;
    }
    while ((rv = acme_proc_poll(proc, &code, &out)) == APR_INCOMPLETE) {
        if (rs->stop && *rs->stop) {
            acme_proc_stop(proc);
            return -1;
        }
        apr_sleep(apr_time_from_msec(20));
    }
    if (acme_configtest_passed(rv, code, out)) {
        return 1;
    }
    *preason = rv == APR_TIMEUP ? "the configuration test did not finish in 30 s"
             : acme_configtest_reason(p, out);
    return 0;
}

/* The record is written by root; the worker (the User) reads it and adds its mark. */
static void give_to_user(mod_acme_gen_t *m, apr_pool_t *p)
{
    const char *dir = m->store->path(m->store, ACME_GROUP_ORDERS, ACME_BLOCKED_ENTRY,
                                     ACME_BLOCKED_ASPECT, p);
    if (!dir || geteuid() != 0) {
        return;
    }
    if (chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        return;
    }
    dir = apr_pstrmemdup(p, dir, (apr_size_t)(strrchr(dir, '/') - dir));
    if (chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
        return;
    }
}

static void blocked(mod_acme_gen_t *m, mod_acme_restart_t *rs, const char *ids, int n,
                    const char *reason, apr_time_t now, apr_pool_t *p)
{
    acme_blocked_t b;
    apr_status_t rv;
    char *list = apr_pstrdup(p, ids), *last, *id;

    if (!rs->since || strcmp(rs->reason, reason)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, m->s, ACMELOGNO(00100)
                     "new certificate(s) %s ready, but the configuration does not pass the "
                     "check of 'apachectl configtest': %s. Not restarting: the server keeps "
                     "running on the configuration it has. Checked again when the "
                     "configuration files change, and every %d s",
                     ids, reason, (int)apr_time_sec(CONFIGTEST_INTERVAL));
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00101)
                     "the configuration still does not pass: %s", reason);
    }
    if (!rs->since) {
        rs->since = apr_time_from_sec(apr_time_sec(now)); /* the record keeps seconds */
    }
    apr_cpystrn(rs->reason, reason, sizeof(rs->reason));
    b.since = rs->since;
    b.checked = now;
    b.reason = reason;
    b.certs = apr_array_make(p, n, sizeof(const char *));
    for (id = apr_strtok(list, ", ", &last); id; id = apr_strtok(NULL, ", ", &last)) {
        APR_ARRAY_PUSH(b.certs, const char *) = id;
    }
    if ((rv = acme_blocked_save(m->store, &b, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, m->s, ACMELOGNO(00102)
                     "cannot record the blocked activation in the store");
    }
    give_to_user(m, p);
}

/* passed: the check passed (else nothing waits any more) */
static void unblocked(mod_acme_gen_t *m, mod_acme_restart_t *rs, int passed, apr_pool_t *p)
{
    if (rs->since && passed) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->s, ACMELOGNO(00103)
                     "the configuration passes again: activation no longer blocked");
    }
    rs->since = 0;
    rs->reason[0] = '\0';
    acme_blocked_clear(m->store, p);
}

/* ---- when to restart ----------------------------------------------------------------- */

/* How many certificates in use have neither a live set this generation can serve
 * (none, or a damaged one) nor a complete staged set (the ids in staged): the ones a
 * batch may still be waiting for. used_by_tls is set by mod_ssl's post_config, which has
 * run before the thread's first look (RESTART_LOOK after it starts). */
static int certs_missing(mod_acme_gen_t *m, const apr_array_header_t *staged, apr_pool_t *p)
{
    apr_hash_t *have = apr_hash_make(p);
    int i, n = 0;

    for (i = 0; i < staged->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(staged, i, const char *);
        apr_hash_set(have, id, APR_HASH_KEY_STRING, id);
    }
    for (i = 0; i < m->certs->nelts; ++i) {
        mod_acme_managed_t *mc = APR_ARRAY_IDX(m->certs, i, mod_acme_managed_t *);
        if (mc->used_by_tls && (!mc->have_live || mc->damaged)
            && !apr_hash_get(have, mc->id, APR_HASH_KEY_STRING)) {
            n++;
        }
    }
    return n;
}

/* The complete staged sets (meta.json is written last) of configured certificates: their
 * number, ids joined with ", " in *pids and as an array in *parr; *psig identifies these
 * very sets (id, inode and mtime of each meta.json: a renewal staged later for the same
 * id is another set). */
static int staged_ready(mod_acme_gen_t *m, apr_pool_t *p, const char **pids,
                        apr_array_header_t **parr, const char **psig)
{
    apr_array_header_t *ids, *sets;
    int i;
    apr_finfo_t fi;
    unsigned char md[32];
    const char *text;

    *pids = *psig = "";
    *parr = apr_array_make(p, 4, sizeof(const char *));
    sets = apr_array_make(p, 4, sizeof(const char *));
    if (m->store->list(m->store, ACME_GROUP_STAGING, &ids, p) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < ids->nelts; ++i) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        const char *meta;
        if (apr_hash_get(m->by_id, id, APR_HASH_KEY_STRING)
            && (meta = m->store->path(m->store, ACME_GROUP_STAGING, id, "meta.json", p))
            && apr_stat(&fi, meta, APR_FINFO_TYPE | APR_FINFO_INODE | APR_FINFO_MTIME, p)
               == APR_SUCCESS && fi.filetype == APR_REG) {
            APR_ARRAY_PUSH(*parr, const char *) = id;
            APR_ARRAY_PUSH(sets, const char *) = apr_psprintf(
                p, "%s %" APR_UINT64_T_FMT " %" APR_TIME_T_FMT, id, (apr_uint64_t)fi.inode,
                fi.mtime);
        }
    }
    *pids = acme_names_join(p, *parr, ", ");
    text = acme_names_join(p, sets, "\n");
    acme_sha256(md, text, strlen(text));
    *psig = acme_hex(p, md, sizeof(md));
    return (*parr)->nelts;
}

/* Whether the configuration passes; runs the check only when the policy says so (a
 * blocked episode waits for a change or the interval). */
static int config_passes(mod_acme_gen_t *m, const char *ids, int n, apr_time_t now, apr_pool_t *p)
{
    mod_acme_restart_t *rs = m->restart;
    const char *sig = "", *staged_sig, *why, *reason;
    unsigned char md[32];
    int ok;

    acme_files_signature(&sig, p, rs->conf_files);
    acme_sha256(md, ids, strlen(ids));
    staged_sig = acme_hex(p, md, sizeof(md));
    if (!acme_activation_should_check(&rs->act, sig, staged_sig, now, CONFIGTEST_INTERVAL,
                                      &why)) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, m->s, ACMELOGNO(00104)
                 "checking the configuration before a graceful restart (%s)", why);
    if ((ok = configtest(m, rs, &reason, p)) < 0) {
        return 0;
    }
    rs->act.checked = now;
    apr_cpystrn(rs->config_sig, sig, sizeof(rs->config_sig));
    apr_cpystrn(rs->staged_sig, staged_sig, sizeof(rs->staged_sig));
    rs->act.config_sig = rs->config_sig;
    rs->act.staged_sig = rs->staged_sig;
    rs->act.blocked = !ok;
    if (ok) {
        unblocked(m, rs, 1, p);
    }
    else {
        blocked(m, rs, ids, n, reason, now, p);
    }
    return ok;
}

/* Activates the staged sets in the root parent before the restart (verified, key unsealed
 * to a root-only file, swapped in atomically: mod_acme_activate_one), so that post_config
 * of the next generation only finds them live. A set that fails verification is archived
 * and never goes live; a crash half-way leaves whole sets live or staged (post_config
 * activates what is left). Runs the sets in ACTIVATE_THREADS threads: a set costs a few
 * milliseconds of CPU and more of waiting for the disk (each file is fsynced, and so are
 * the directories), and threads overlap those waits. Returns how many went live. */
typedef struct activation_t {
    mod_acme_gen_t *m;
    const apr_array_header_t *ids;
    apr_thread_mutex_t *lock;   /* the verified-sets cache, mem->activated and n */
    int n;
} activation_t;

static void activate_job(void *baton, int job)
{
    activation_t *a = baton;
    mod_acme_gen_t *m = a->m;
    restart_mem_t *mem = m->restart->mem;
    const char *id = APR_ARRAY_IDX(a->ids, job, const char *);
    mod_acme_managed_t *mc = apr_hash_get(m->by_id, id, APR_HASH_KEY_STRING);
    apr_pool_t *p;

    if (!mc || (m->restart->stop && *m->restart->stop)
        || apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return;                          /* the generation ends: post_config does the rest */
    }
    if (mod_acme_activate_one(m, mc, a->lock, p)) {
        apr_thread_mutex_lock(a->lock);
        a->n++;
        if (mem) {
            const char *key = apr_pstrdup(mem->pool, id);
            apr_hash_set(mem->activated, key, APR_HASH_KEY_STRING, key);
        }
        apr_thread_mutex_unlock(a->lock);
    }
    apr_pool_destroy(p);
}

static int activate_before_restart(mod_acme_gen_t *m, const apr_array_header_t *ids,
                                   apr_pool_t *p)
{
    activation_t a;

    a.m = m;
    a.ids = ids;
    a.n = 0;
    if (apr_thread_mutex_create(&a.lock, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
        return 0;
    }
    acme_parallel_run(ids->nelts, ACTIVATE_THREADS, activate_job, &a, p);
    apr_thread_mutex_destroy(a.lock);
    return a.n;
}

/* One look at staging. When complete staged sets wait and the coalescing window says the
 * batch is complete (acme_restart_due), and the configuration passes, activates them and
 * restarts gracefully. Returns 1 when it restarted. */
static int restart_check(mod_acme_gen_t *m, apr_pool_t *p)
{
    restart_mem_t *mem = m->restart->mem;
    apr_time_t now = apr_time_now();
    apr_array_header_t *arr;
    acme_restart_in_t in;
    const char *ids, *why, *sig;
    int n, activated;

    if (!(n = staged_ready(m, p, &ids, &arr, &sig))) {
        m->staged_seen = 0;
        m->staged_count = 0;
        if (m->restart->since) {
            unblocked(m, m->restart, 0, p);
        }
        return 0;
    }
    if (!m->staged_seen) {
        m->staged_seen = now;
        if (!m->auto_restart) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->s, ACMELOGNO(00040)
                         "new certificate(s) staged for %s: ACMEAutoRestart is off, run "
                         "'apachectl graceful' to activate them", ids);
        }
    }
    if (!m->auto_restart) {
        return 0;
    }
    if (n > m->staged_count) {
        m->staged_count = n;
        m->staged_grew = now;
    }
    memset(&in, 0, sizeof(in));
    in.staged = n;
    in.staged_seen = m->staged_seen;
    in.staged_grew = m->staged_grew;
    in.last_restart = *m->last_restart;
    in.same_as_last = mem && !strcmp(mem->last_sig, sig);
    in.missing = certs_missing(m, arr, p);
    in.restart_cost = mem ? mem->restart_cost : 0;
    /* the store is looked at only once the rules before it allow a restart */
    in.in_flight = 0;
    if (!acme_restart_due(&in, now, &why)) {
        return 0;
    }
    /* (while activation is blocked the configuration decides, not the batch) */
    if (strcmp(why, "the batch waited long enough") && !m->restart->since
        && (in.in_flight = acme_orders_in_flight(m->store, now - ACME_RESTART_ACTIVE, p)) > 0
        && !acme_restart_due(&in, now, &why)) {
        return 0;
    }
    /* never restart into a configuration that stops the server */
    if (!config_passes(m, ids, n, now, p)) {
        return 0;
    }
    *m->last_restart = apr_time_now();
    if (mem) {
        apr_cpystrn(mem->last_sig, sig, sizeof(mem->last_sig));
    }
    activated = activate_before_restart(m, arr, p);
    if (!activated) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, m->s, ACMELOGNO(00600)
                     "staged certificate(s) %s: none could be activated (logged above): "
                     "no restart", ids);
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, m->s, ACMELOGNO(00041)
                 "new certificate(s) staged for %s: activated %d, graceful restart to serve "
                 "them (%s)", ids, activated, why);
    if (mem) {
        /* the restart's own cost starts here: the activation above is paid once a set,
         * however the sets are batched */
        mem->cpu_at_restart = mod_acme_parent_cpu();
        mem->signalled = apr_time_now();
    }
    kill(getpid(), SIGUSR1);
    return 1;
}

/* ---- the thread ---------------------------------------------------------------------- */

/* The parent's restarter thread: looks at staging four times a second, so a new certificate goes
 * live within seconds (the monitor hook runs only every ~10 s). It takes no lock (the
 * parent forks children meanwhile) and is joined from a pre-cleanup of pconf (a normal
 * cleanup destroys its pool twice: every new child crashed). */
typedef struct restarter_t {
    mod_acme_gen_t *m;
    apr_thread_t *thread;
    volatile int stop;
} restarter_t;

static void *APR_THREAD_FUNC restarter_run(apr_thread_t *thread, void *baton)
{
    restarter_t *r = baton;
    apr_pool_t *p;
    int i;

    if (apr_pool_create_unmanaged_ex(&p, NULL, NULL) != APR_SUCCESS) {
        return NULL;
    }
    while (!r->stop) {
        for (i = 0; i < 5 && !r->stop; ++i) {
            apr_sleep(RESTART_LOOK / 5);
        }
        if (r->stop) {
            break;
        }
        apr_pool_clear(p);
        if (restart_check(r->m, p)) {
            break; /* this generation ends: the next one starts its own thread */
        }
    }
    apr_pool_destroy(p);
    return NULL; /* no apr_thread_exit: it would destroy a subpool of pconf from here */
}

static apr_status_t restarter_stop(void *baton)
{
    restarter_t *r = baton;
    apr_status_t trv;
    r->stop = 1;
    apr_thread_join(&trv, r->thread);
    return APR_SUCCESS;
}

apr_status_t mod_acme_restarter_start(mod_acme_gen_t *m, apr_pool_t *pconf)
{
    restarter_t *r;
    void *data = NULL;
    apr_status_t rv;

    /* the time of the last restart outlives the generation (process pool) */
    apr_pool_userdata_get(&data, "mod_acme_last_restart", m->s->process->pool);
    if (!data) {
        data = apr_pcalloc(m->s->process->pool, sizeof(apr_time_t));
        apr_pool_userdata_set(data, "mod_acme_last_restart", apr_pool_cleanup_null,
                              m->s->process->pool);
    }
    m->last_restart = data;
    m->restart = restart_setup(m, pconf);
    mod_acme_restart_measure(m, m->restart->mem);
    /* this generation read its configuration: whatever blocked the last one is gone */
    acme_blocked_clear(m->store, pconf);
    if (!m->auto_restart || !m->certs->nelts) {
        return APR_SUCCESS;
    }
    r = apr_pcalloc(pconf, sizeof(*r));
    r->m = m;
    m->restart->stop = &r->stop;
    if ((rv = apr_thread_create(&r->thread, NULL, restarter_run, r, pconf)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, m->s, ACMELOGNO(00068)
                     "cannot start the restarter thread: new certificates are activated by "
                     "the monitor, within about 20 s");
        m->restart->stop = NULL;
        return APR_SUCCESS;
    }
    apr_pool_pre_cleanup_register(pconf, r, restarter_stop);
    m->restarter_running = 1;
    return APR_SUCCESS;
}

/* Fallback when the restarter thread is not running (and the ACMEAutoRestart off notice). */
int mod_acme_hook_monitor(apr_pool_t *pool, server_rec *s)
{
    mod_acme_gen_t *m = mod_acme_gen;
    apr_pool_t *p;

    if (!m || !m->store_ok || !m->certs->nelts || !m->last_restart || !m->restart
        || m->restarter_running) {
        return DECLINED;
    }
    apr_pool_create(&p, pool);
    restart_check(m, p);
    apr_pool_destroy(p);
    return DECLINED;
}
