#!/bin/sh
# Names say where things live: the httpd glue (mod_acme/mod_acme*.c) defines mod_acme_*
# names only (plus acme_module, which "LoadModule acme_module" needs), the core
# (mod_acme/acme_*.c) never a mod_acme_* name.
# Usage: check-names.sh SRCDIR BUILDDIR   (run by `make check`)
srcdir=${1:-.}
builddir=${2:-.}
so=$builddir/.libs/mod_acme.so
core=$builddir/.libs/libacmecore.a
fail=0

# Functions defined in a glue file (a definition line: no ';', '(' follows the name).
bad=$(grep -nE '^[A-Za-z_][A-Za-z0-9_ *]*[ *]acme_[A-Za-z0-9_]+\(' "$srcdir"/mod_acme/mod_acme*.c \
      | grep -v ';' || true)
if test -n "$bad"; then
    echo "glue function under a core name (use mod_acme_):"; echo "$bad"; fail=1
fi
# Types declared in glue files.
bad=$(grep -nE '\b(typedef|struct|enum)[^;(]*\bacme_[A-Za-z0-9_]+_t\b *[{;]' \
      "$srcdir"/mod_acme/mod_acme*.[ch] || true)
if test -n "$bad"; then
    echo "glue type under a core name (use mod_acme_):"; echo "$bad"; fail=1
fi
# Core sources define no mod_acme_ function.
bad=$(grep -nE '^[A-Za-z_][A-Za-z0-9_ *]*[ *]mod_acme_[A-Za-z0-9_]+\(' "$srcdir"/mod_acme/acme_*.c \
      | grep -v ';' || true)
if test -n "$bad"; then
    echo "core function under a glue name:"; echo "$bad"; fail=1
fi
# No hub header: each glue file has its own header, and no header includes mod_acme.c's.
bad=$(grep -nE '#include[[:space:]]*"mod_acme\.(h|c)"' "$srcdir"/mod_acme/*.[ch] || true)
if test -f "$srcdir/mod_acme/mod_acme.h" || test -n "$bad"; then
    echo "mod_acme.h (hub header) is back:"; echo "$bad"; fail=1
fi
# A glue header includes no glue header but mod_acme_config.h and mod_acme_generation.h,
# and mod_acme_config.h none: no include cycle.
bad=$(grep -nE '#include[[:space:]]*"mod_acme_[a-z_]+\.h"' "$srcdir"/mod_acme/mod_acme_*.h \
      | grep -vE ':#include[[:space:]]*"mod_acme_(config|generation)\.h"' || true)
bad2=$(grep -nE '#include[[:space:]]*"mod_acme_' "$srcdir"/mod_acme/mod_acme_config.h || true)
if test -n "$bad$bad2"; then
    echo "glue header includes another glue header (include cycle risk):"
    test -n "$bad" && echo "$bad"; test -n "$bad2" && echo "$bad2"; fail=1
fi
# The built objects: every acme_ symbol the module exports comes from the core, and the
# core exports no mod_acme_ symbol.
if test -f "$so" && test -f "$core"; then
    core_syms=$(nm -g --defined-only "$core" | awk 'NF == 3 { print $3 }' | sort -u)
    bad=$(nm -g --defined-only "$so" | awk 'NF == 3 && $3 ~ /^acme_/ && $3 != "acme_module" { print $3 }' \
          | sort -u | while read -r sym; do
              echo "$core_syms" | grep -qxF "$sym" || echo "$sym"
          done)
    if test -n "$bad"; then
        echo "glue symbol under a core name in mod_acme.so:"; echo "$bad"; fail=1
    fi
    bad=$(echo "$core_syms" | grep '^mod_acme_' || true)
    if test -n "$bad"; then
        echo "core symbol under a glue name:"; echo "$bad"; fail=1
    fi
else
    echo "check-names: $so or $core not built" >&2; fail=1
fi
test $fail -eq 0 && echo "glue and core names: ok"
exit $fail
