#!/bin/sh
# test_install.sh - install into a scratch DESTDIR and use the result as a
# user would: check that every piece is in place, build a small program out
# of the tree with nothing but `pkg-config --cflags --libs astron-event`, and
# run it disabled and on the embedded mock cluster, linked against the
# installed shared library and against the installed static one.
#
# Run by `make check` (top_builddir, MAKE and CC come from the environment),
# or by hand from a built tree: sh tests/test_install.sh
set -u
: "${top_builddir:=.}" "${MAKE:=make}" "${CC:=cc}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "PASS: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { # NAME COMMAND...: passes when the command succeeds
	name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
	echo "test_install: $pass passed, $fail failed"
	# The line tools/run-tests adds up, in Criterion's words.
	echo "[====] Synthesis: Tested: $((pass + fail)) | Passing: $pass | Failing: $fail | Crashing: 0"
	[ "$fail" = 0 ]
	exit
}

dest=$tmp/root
if ! $MAKE -C "$top_builddir" install DESTDIR="$dest" >"$tmp/install.log" 2>&1; then
	tail -n 30 "$tmp/install.log"
	bad "make install DESTDIR=..."
	finish
fi
ok "make install DESTDIR=..."

# Where configure put things, from the installed .pc file itself.
pc=$(find "$dest" -name astron-event.pc | head -n 1)
if [ -z "$pc" ]; then
	bad "astron-event.pc installed"
	finish
fi
ok "astron-event.pc installed"
var() { sed -n "s|^$1=||p" "$pc"; }
prefix=$(var prefix)
libdir=$dest$(var libdir | sed "s|\${exec_prefix}|$prefix|; s|\${prefix}|$prefix|")
incdir=$dest$(var includedir | sed "s|\${prefix}|$prefix|")
root=$dest$prefix

for h in event.h json.h kafka.h service.h version.h; do
	check "header astron/$h" test -f "$incdir/astron/$h"
done
check "shared library" test -e "$libdir/libastron-event.so"
check "static library" test -f "$libdir/libastron-event.a"
check "bin/astron-event-cat" test -x "$root/bin/astron-event-cat"
headers=$(cd "$incdir/astron" 2>/dev/null && echo *)
check "only the public headers are installed ($headers)" \
	test "$headers" = "event.h json.h kafka.h service.h version.h"
for page in man1/astron-event-cat.1 man7/astron-event.7 \
	man3/ASTRON_EVENT.3 man3/ASTRON_EVENT_KEYED.3 man3/astron_event_flush.3 \
	man3/astron_event_shutdown.3 man3/astron_event_stats.3 \
	man3/astron_event_set_log_cb.3 man3/astron_event_servers.3 \
	man3/astron_event_version.3 man3/astron_strerror.3 \
	man3/astron_kafka_service.3 man3/astron_kafka_service_send.3 \
	man3/astron_kafka_service_factory_create.3; do
	check "man page $page" test -f "$root/share/man/$page"
done

# Every installed page renders without a single groff warning (from the
# man directory, so that ".so man3/..." resolves as man does it), and every
# full page names the version that is installed.
version=$(sed -n 's/^Version: *//p' "$pc")
stale=
for page in "$root"/share/man/man*/*; do
	if ! grep -q '^\.so ' "$page" &&
		! grep -q "^\.TH .*\"astron-event $version\"" "$page"; then
		stale="$stale $(basename "$page")"
	fi
done
check "man pages say astron-event $version${stale:+ (not:$stale)}" test -z "$stale"
if command -v groff >/dev/null 2>&1; then
	warned=0
	for page in "$root"/share/man/man*/*; do
		out=$(cd "$root/share/man" && groff -t -man -Tutf8 -ww -z "$page" 2>&1)
		if [ -n "$out" ]; then
			echo "$page: $out"
			warned=1
		fi
	done
	check "man pages render without groff warnings" test "$warned" = 0
else
	echo "SKIP: groff is not installed (apt-get install groff-base)"
fi

out=$("$root/bin/astron-event-cat" --version 2>&1)
case $out in
"astron-event-cat "[0-9]*) ok "installed astron-event-cat --version: $out" ;;
*) bad "installed astron-event-cat --version: $out" ;;
esac

# An out-of-tree program: the kind of thing a user writes first.
mkdir "$tmp/app"
cat >"$tmp/app/app.c" <<'APP'
#include <astron/event.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	astron_event_stats_t st;
	int rc;

	printf("astron-event %s (built against %s)\n", astron_event_version(),
	       ASTRON_EVENT_VERSION_STRING);
	if (strcmp(astron_event_version(), ASTRON_EVENT_VERSION_STRING) != 0)
		return 1;
	for (int i = 0; i < 10; i++)
		ASTRON_EVENT("install.check", "i=%d who=%s", i, "installed");
	rc = astron_event_flush(10000);
	astron_event_stats(&st);
	printf("flush: %s; emitted=%llu delivered=%llu\n", astron_strerror(rc),
	       (unsigned long long)st.emitted, (unsigned long long)st.delivered);
	if (!astron_event_enabled())
		return rc == ASTRON_EDISABLED && st.emitted == 0 ? 0 : 1;
	return rc == 0 && st.delivered == 10 ? 0 : 1;
}
APP

# pkg-config sees the installed tree through the DESTDIR as a sysroot.
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
unset PKG_CONFIG_LIBDIR
flags=$(pkg-config --cflags --libs astron-event)
echo "pkg-config --cflags --libs astron-event: $flags"
case $flags in
*"-I$incdir"*"-L$libdir"*"-lastron-event"*) ok "pkg-config points into the installed tree" ;;
*) bad "pkg-config points into the installed tree" ;;
esac

# shellcheck disable=SC2086 # the flags are words
if (cd "$tmp/app" && $CC -Wall -Wextra -Werror -o app app.c $flags) >"$tmp/cc.log" 2>&1; then
	ok "build app.c with pkg-config's flags only"
else
	cat "$tmp/cc.log"
	bad "build app.c with pkg-config's flags only"
	finish
fi

run_app() { # NAME BINARY ENV...: run the app with exactly that KAFKA_* env
	name=$1 bin=$2
	shift 2
	if out=$(env -u KAFKA_ENABLE -u KAFKA_SERVERS -u KAFKA_TIMEOUT \
		LD_LIBRARY_PATH="$libdir" "$@" timeout 60 "$bin" 2>&1); then
		ok "$name: $(echo "$out" | tr '\n' ' ')"
	else
		bad "$name: $out"
	fi
}
run_app "installed app, KAFKA_ENABLE unset (disabled)" "$tmp/app/app"
run_app "installed app, KAFKA_SERVERS=mock" "$tmp/app/app" KAFKA_ENABLE=1 KAFKA_SERVERS=mock

# Every EXAMPLE of the section 3 and 7 pages is a complete program: build
# it against the installed library and run it on the mock cluster.
mkdir "$tmp/ex"
for page in "$root"/share/man/man3/*.3 "$root"/share/man/man7/*.7; do
	grep -q '^\.so ' "$page" && continue
	name=$(basename "$page")
	case $name in
	*.3)
		missing=
		for sec in NAME SYNOPSIS DESCRIPTION "RETURN VALUE" EXAMPLE "SEE ALSO"; do
			grep -q "^\.SH $sec\$" "$page" || missing="$missing, $sec"
		done
		if [ -n "$missing" ]; then
			bad "$name lacks ${missing#, }"
			continue
		fi
		;;
	esac
	# The first .EX block of the section that holds a main(), unescaped.
	awk '/^\.SH EXAMPLES?$/ { ex = 1 }
	     ex && /^\.EX/ { inb = 1; buf = ""; next }
	     inb && /^\.EE/ { inb = 0; if (buf ~ /int main/) { printf "%s", buf; exit } next }
	     inb { buf = buf $0 "\n" }' "$page" |
		sed -e 's/\\e/\\/g' -e 's/\\-/-/g' >"$tmp/ex/$name.c"
	if ! grep -q 'int main' "$tmp/ex/$name.c"; then
		bad "$name: EXAMPLE has no complete program"
		continue
	fi
	# shellcheck disable=SC2086
	if ! $CC -Wall -Wextra -Werror -o "$tmp/ex/$name" "$tmp/ex/$name.c" $flags \
		>"$tmp/ex/$name.log" 2>&1; then
		cat "$tmp/ex/$name.log"
		bad "$name: EXAMPLE builds"
		continue
	fi
	run_app "$name: EXAMPLE runs" "$tmp/ex/$name" KAFKA_ENABLE=1 KAFKA_SERVERS=mock
done

lib=$(LD_LIBRARY_PATH="$libdir" ldd "$tmp/app/app" | sed -n 's/.*libastron-event[^ ]* => \([^ ]*\).*/\1/p')
case $lib in
"$libdir"/*) ok "the app loads the installed libastron-event ($lib)" ;;
*) bad "the app loads '$lib', not the installed library" ;;
esac

# Static: our library taken from its archive, its dependencies (the .pc's
# Requires.private and Libs.private) as shared libraries.  Not `--static`:
# that also asks for librdkafka's own private dependencies (lz4, zstd, ...),
# which a system without their -dev packages cannot link.
sflags="$(pkg-config --cflags --libs astron-event rdkafka msgpack | sed 's/-lastron-event/-l:libastron-event.a/') -pthread"
# shellcheck disable=SC2086
if (cd "$tmp/app" && $CC -Wall -Wextra -Werror -o app-static app.c $sflags) >"$tmp/cc.log" 2>&1; then
	ok "build app.c against the static library"
	if ldd "$tmp/app/app-static" | grep -q libastron-event; then
		bad "app-static does not need libastron-event.so"
	else
		ok "app-static does not need libastron-event.so"
	fi
	run_app "static app, KAFKA_SERVERS=mock" "$tmp/app/app-static" KAFKA_ENABLE=1 KAFKA_SERVERS=mock
else
	cat "$tmp/cc.log"
	bad "build app.c against the static library"
fi
finish
